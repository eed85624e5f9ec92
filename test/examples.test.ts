// Every example runs as a partner would run it (tsx, a separate process) and completes a forward.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)
// tsx compiles the examples differently from tap's loader: their V8 coverage of the same lib files
// would be merged range by range with the tests' and corrupt the report, so the children record none.
const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }

for (const example of ['stripe', 'adyen', 'braintree', 'checkout-com', 'sqlite-vault']) {
  t.test(`examples/${example}.ts forwards a card and prints a 200`, async t => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${example}.ts`], { timeout: 60_000, env })
    t.match(stdout, /^200 \{/m)
    t.match(stdout, /"last4": "4242"/)
    t.notMatch(stdout, /4242424242424242/, 'the PAN is not printed')
  })
}
