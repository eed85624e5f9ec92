// Every example runs as a partner would run it (tsx, a separate process) and completes a forward.
import t, { type Test } from 'tap'
import Database from 'better-sqlite3'
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateTestKeys, mintToken, startJwksServer } from '../lib/sandbox/index.ts'

const run = promisify(execFile)
// No coverage from the tsx children: tap's process tracking re-adds its hooks to every child, and a
// tsx child's coverage of lib/ does not line up with tap's, which corrupts the report.
const childEnv = { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COVERAGE_: '0' }

for (const example of ['stripe', 'adyen', 'braintree', 'checkout-com', 'sqlite-vault']) {
  t.test(`examples/${example}.ts forwards a card and prints a 200`, async t => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${example}.ts`], { timeout: 60_000, env: childEnv })
    t.match(stdout, /^200 \{/m)
    t.match(stdout, /"last4": "4242"/)
    t.notMatch(stdout, /4242424242424242/, 'the PAN is not printed')
  })
}

/** Starts a tsx child and hands back each stdout line as it comes. */
function start (t: Test, file: string, env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...childEnv, ...env } })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const lines: string[] = []
  const waiting: Array<{ test: (line: string) => boolean, resolve: (line: string) => void }> = []
  createInterface({ input: child.stdout }).on('line', line => {
    lines.push(line)
    for (const w of waiting.splice(0)) if (w.test(line)) w.resolve(line); else waiting.push(w)
  })
  const line = (test: (line: string) => boolean) => new Promise<string>((resolve, reject) => {
    const seen = lines.find(test)
    if (seen !== undefined) return resolve(seen)
    waiting.push({ test, resolve })
    child.once('exit', code => reject(new Error(`${file} exited (${code}) first: ${stderr}`)))
  })
  return { child, lines, line, stderr: () => stderr }
}

t.test('examples/production.ts: from the environment, behind a trusted proxy, against an https sandbox; health check; SIGTERM', async t => {
  const keys = generateTestKeys('RS256', 'production-key') // RS256: what a JWKS is pinned to unless auth.algorithms says otherwise
  const jwks = await startJwksServer({ keys: [keys.jwk] })
  t.teardown(() => jwks.close())
  const destinationKey = 'rokt-destination-key-for-production'
  const sandbox = start(t, 'test/helpers/tls-sandbox.ts', {
    NODE_EXTRA_CA_CERTS: fileURLToPath(new URL('fixtures/tls/self-signed-cert.pem', import.meta.url)),
    ROKT_DESTINATION_KEY: destinationKey
  })
  t.teardown(() => { sandbox.child.stdin.end() })
  const { stripeUrl, destinationUrl } = JSON.parse(await sandbox.line(line => line.startsWith('{')))

  const vault = join(t.testdir(), 'vault.db')
  const db = new Database(vault)
  db.exec('CREATE TABLE vaulted_cards (reference TEXT PRIMARY KEY, payment_method TEXT NOT NULL, email TEXT)')
  db.prepare('INSERT INTO vaulted_cards VALUES (?, ?, ?)').run('ORDER_67890', 'pm_card_visa', 'john.smith@example.com')
  db.close()

  const server = start(t, 'examples/production.ts', {
    HOST: '127.0.0.1',
    PORT: '0',
    TRUSTED_PROXIES: '127.0.0.1', // this test plays the load balancer
    ROKT_ALLOWED_IPS: '203.0.113.0/24',
    AUTH_JWKS_URL: jwks.url,
    AUTH_ISSUER: 'https://idp.rokt.example/',
    AUTH_AUDIENCE: 'rokt-payment-sharing',
    AUTH_REQUIRED_SCOPE: 'payment-sharing',
    STRIPE_FORWARDING_KEY: 'sk_test_sandbox',
    STRIPE_API_BASE_URL: stripeUrl,
    ROKT_DESTINATION_URL: destinationUrl,
    ROKT_DESTINATION_KEY: destinationKey,
    VAULT_DATABASE: vault,
    LOG_LEVEL: 'info'
  })
  const listening = JSON.parse(await server.line(line => line.includes('Server listening at')))
  const address = /http:\/\/127\.0\.0\.1:\d+/.exec(listening.msg)![0]

  const health = await fetch(`${address}/healthz`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })

  const token = mintToken(keys, { issuer: 'https://idp.rokt.example/', audience: 'rokt-payment-sharing', clientId: 'rokt', scope: 'payment-sharing' })
  const call = (headers: Record<string, string>) => fetch(`${address}/v1/initiate-payment-sharing`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ customerIdentifiers: { email: 'john.smith@example.com' }, partnerPaymentReference: 'ORDER_67890', destination: 'COM.ROKT.CATALOG' })
  })
  const forwarded = await call({ 'x-forwarded-for': '203.0.113.7' })
  const answer = await forwarded.json() as { status: number, body: { last4: string } }
  t.equal(forwarded.status, 200, JSON.stringify(answer))
  t.equal(answer.status, 200, 'the destination, over https, answered')
  t.equal(answer.body.last4, '4242')
  const direct = await call({})
  t.equal(direct.status, 403, 'the balancer itself is not Rokt: without its X-Forwarded-For, refused')

  server.child.kill('SIGTERM')
  const [code] = await once(server.child, 'exit')
  t.equal(code, 0, server.stderr())
  const logs = server.lines.map(line => JSON.parse(line))
  t.ok(logs.every(entry => typeof entry.level === 'number' && typeof entry.time === 'number'), 'every stdout line is a structured log entry')
  t.same(logs.filter(entry => entry.audit !== undefined).map(entry => [entry.audit.event, entry.audit.ip]), [
    ['accepted', '203.0.113.7'], ['forward_ok', '203.0.113.7'], ['ip_denied', '127.0.0.1']
  ], 'audited with the client address the balancer saw')
  t.ok(logs.some(entry => entry.signal === 'SIGTERM'), 'the shutdown is logged')
  t.equal(logs.at(-1).msg, 'closed')
  const text = server.lines.join('\n')
  for (const secret of [token, destinationKey, 'john.smith@example.com', '4242424242424242']) t.notMatch(text, secret, 'no secret in the logs')
})
