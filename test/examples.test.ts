// Every example runs as a partner would run it (tsx, a separate process) and completes a forward.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

for (const example of ['stripe', 'adyen', 'braintree', 'checkout-com', 'sqlite-vault']) {
  t.test(`examples/${example}.ts forwards a card and prints a 200`, async t => {
    // No coverage from the tsx child: tap's process tracking re-adds its hooks to every child, and a
    // tsx child's coverage of lib/ does not line up with tap's, which corrupts the report.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${example}.ts`], { timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
    t.match(stdout, /^200 \{/m)
    t.match(stdout, /"last4": "4242"/)
    t.notMatch(stdout, /4242424242424242/, 'the PAN is not printed')
  })
}
