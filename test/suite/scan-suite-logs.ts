import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { findSecrets, LOG_CAPTURE_DIR } from '../helpers/secrets.ts'

// tap's `after`: every log line that every test app of the whole run wrote (the harness appends
// them to LOG_CAPTURE_DIR, one file per test process that loaded it) is scanned once all test
// files have finished.
t.test('D37 no PAN, CVC, bearer token, API key or email address in any log line of the whole suite', async t => {
  const files = readdirSync(LOG_CAPTURE_DIR)
  if (files.length === 0) {
    t.pass('no test of this run loaded the harness: nothing was logged')
    return
  }
  const lines = files
    .flatMap(file => readFileSync(join(LOG_CAPTURE_DIR, file), 'utf8').split('\n'))
    .filter(line => line !== '')
  t.ok(lines.length > 0, `${files.length} test processes logged ${lines.length} lines`)
  t.ok(lines.some(line => line.includes('"audit"')), 'audit events are among them')
  t.same(findSecrets(lines), [], 'no secret in any line')
})
