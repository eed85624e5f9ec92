import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { withSpinner } from '../lib/cli/progress.ts'

function stream (isTTY: boolean) {
  const writes: string[] = []
  return { writes, isTTY, write: (text: string) => writes.push(text) }
}

t.test('on a terminal: a spinner while the task runs, the line cleared when it ends', async t => {
  const tty = stream(true)
  t.equal(await withSpinner(tty, 'jwks https://idp.example/', () => sleep(300, 42)), 42)
  t.same(tty.writes.slice(0, 2), ['\r⠋ jwks https://idp.example/', '\r⠙ jwks https://idp.example/'])
  t.equal(tty.writes.at(-1), '\r\x1b[2K')
})

t.test('on a terminal: the line is cleared when the task fails too', async t => {
  const tty = stream(true)
  await t.rejects(withSpinner(tty, 'jwks', async () => { throw new Error('ECONNREFUSED') }), /ECONNREFUSED/)
  t.same(tty.writes, ['\r⠋ jwks', '\r\x1b[2K'])
})

t.test('not a terminal (CI, pipes): nothing is drawn', async t => {
  const pipe = stream(false)
  t.equal(await withSpinner(pipe, 'jwks', async () => 'done'), 'done')
  t.same(pipe.writes, [])
})
