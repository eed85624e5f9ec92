// Every example runs as a partner would run it (tsx, a separate process) and completes a forward.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

for (const example of ['stripe', 'adyen', 'braintree', 'checkout-com', 'sqlite-vault']) {
  t.test(`examples/${example}.ts forwards a card and prints a 200`, async t => {
    // NODE_OPTIONS cleared: the child must not inherit tap's coverage hooks (it would skew the report).
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${example}.ts`], { timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } })
    t.match(stdout, /^200 \{/m)
    t.match(stdout, /"last4": "4242"/)
    t.notMatch(stdout, /4242424242424242/, 'the PAN is not printed')
  })
}
