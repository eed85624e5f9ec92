import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { main } from '../lib/cli/main.ts'
import { untilClosed } from '../lib/cli/output.ts'
import { generateTestKeys, startJwksServer } from '../lib/sandbox/tokens.ts'

const BIN = fileURLToPath(new URL('../lib/cli/bin.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SECRETS = {
  STRIPE_KEY: 'sk_test_doctorSecret0001',
  ROKT_KEY: 'rokt_destination_secret_0001',
  ADYEN_KEY: 'AQEadyenDoctorSecret0001',
  BRAINTREE_PRIVATE: 'braintreeDoctorSecret0001',
  CKO_KEY: 'sk_sbox_doctorsecretdoctorsecret01',
  // Written into configs that fail to load, and into a JWKS URL: never printed either.
  INLINE_KEY: 'sk_test_doctorInline0001',
  JWKS_PASSWORD: 'doctorJwksPassword0001'
}

const rsa = generateTestKeys('RS256', 'rokt-rsa-1')
const jwks = await startJwksServer({ keys: [rsa.jwk] })
t.teardown(() => jwks.close())
const deadJwksUrl = `http://127.0.0.1:${await closedPort()}/.well-known/jwks.json`
// Accepts the connection, never answers.
const hanging = createServer(socket => { socket.on('error', () => {}) }).listen(0, '127.0.0.1')
await new Promise(resolve => hanging.once('listening', resolve))
t.teardown(() => { hanging.close() })
const hangingJwksUrl = `http://127.0.0.1:${(hanging.address() as { port: number }).port}/.well-known/jwks.json`
const credentialJwksUrl = deadJwksUrl.replace('http://', `http://doctor:${SECRETS.JWKS_PASSWORD}@`) + `?key=${SECRETS.JWKS_PASSWORD}`

const base = {
  allowedIps: ['203.0.113.0/24', '2001:db8::/32'],
  // The in-process runs fetch this JWKS from this busy process (it starts 15 tsx children and loads
  // the plugin meanwhile): a budget above the 2.5 s default keeps a loaded CI machine from timing out.
  auth: { jwksUrl: jwks.url, issuer: 'https://idp.partner.example/', audience: 'rokt-payment-sharing', jwksTimeoutMs: 15_000 },
  destinations: { 'COM.ROKT.CATALOG': { url: 'https://pci.rokt.example/v1/cards', headers: { 'x-rokt-api-key': { $env: 'ROKT_KEY' } } } }
}
const json = (value: unknown) => JSON.stringify(value, null, 2)

const dir = t.testdir({
  'full.json': json({
    ...base,
    psps: {
      stripe: { adapter: 'stripe', apiKey: { $env: 'STRIPE_KEY' }, onboardedHeaders: ['x-rokt-api-key'] },
      adyen: { adapter: 'adyen', apiKey: { $env: 'ADYEN_KEY' }, merchantAccount: 'AcmeECOM', environment: 'test', credentialsHeader: 'x-rokt-api-key' },
      braintree: { adapter: 'braintree', merchantId: 'acme', publicKey: 'pub', privateKey: { $env: 'BRAINTREE_PRIVATE' }, environment: 'production', configName: { 'COM.ROKT.CATALOG': 'rokt_catalog_v1' } },
      checkoutCom: { adapter: 'checkoutCom', secretKey: { $env: 'CKO_KEY' }, environment: 'sandbox', secretHeaders: { 'x-rokt-api-key': 'rokt_api_key' } }
    },
    destinations: {
      'COM.ROKT.CATALOG': {
        ...base.destinations['COM.ROKT.CATALOG'],
        body: { card: { number: '{{card.number}}', exp_month: '{{card.expMonth}}', exp_year: '{{card.expYear}}' }, billing: { postal_code: '{{billing.postalCode}}' }, metadata: { source: 'rokt', note: null } }
      }
    }
  }),
  'adapters.mjs': `
import { stripe } from ${JSON.stringify(`${ROOT}index.ts`)}
import { braintree } from ${JSON.stringify(`${ROOT}lib/psp/adapters/braintree.ts`)}
const spreedly = { name: 'spreedly', isRecord: () => true, forward: async () => ({}) }
export default async () => ({
  allowedIps: ['203.0.113.7'],
  auth: { publicKey: ${JSON.stringify(rsa.publicKey)}, issuer: 'https://idp.partner.example/', audience: 'rokt' },
  psps: {
    stripe: stripe({ apiKey: process.env.STRIPE_KEY }),
    braintree: braintree({ merchantId: 'acme', publicKey: 'pub', privateKey: process.env.BRAINTREE_PRIVATE, environment: 'sandbox' }),
    spreedly
  },
  resolvePaymentMethod: async () => null,
  destinations: { 'COM.ROKT.TEST': { url: 'http://127.0.0.1:9/cards', body: { pan: '{{card.number}}' } } },
  allowInsecureUrls: true
})
`,
  'commonjs.cjs': `module.exports = ${json({
    ...base,
    auth: { ...base.auth, algorithms: ['RS256'] },
    psps: { braintree: { adapter: 'braintree', merchantId: 'acme', publicKey: 'pub', privateKey: 'priv', environment: 'production', configName: 'rokt_all' } },
    destinations: { 'COM.ROKT.CATALOG': { url: 'https://pci.rokt.example/v1/cards' } }
  })}`,
  'broken.json': '{ "allowedIps": [',
  'broken-secret.json': `{ "psps": { "stripe": { "adapter": "stripe", "apiKey": ${SECRETS.INLINE_KEY} } } }`,
  'unquoted-secret.mjs': `export default { psps: { stripe: { adapter: 'stripe', apiKey: ${SECRETS.INLINE_KEY} } } }`,
  'jwks-credentials.json': json({ ...base, auth: { ...base.auth, jwksUrl: credentialJwksUrl }, psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } } }),
  'number.mjs': 'export default 42',
  'unset-env.json': json({ ...base, psps: { stripe: { adapter: 'stripe', apiKey: { $env: 'DOCTOR_TEST_UNSET' } } } }),
  'bad-key.json': json({ ...base, psps: { stripe: { adapter: 'stripe', apiKey: 'pk_test_publishable' } } }),
  'unknown-adapter.json': json({ ...base, psps: { paypal: { adapter: 'paypal', clientId: 'x' } } }),
  'not-an-adapter.json': json({ ...base, psps: { stripe: 'sk_test_0000' } }),
  'no-ips.json': json({ ...base, allowedIps: [], psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } } }),
  // No jwksTimeoutMs: the default budget (a refusal is instant).
  'jwks-down.json': json({ ...base, auth: { ...base.auth, jwksUrl: deadJwksUrl, jwksTimeoutMs: undefined }, psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } } }),
  'jwks-unusable.json': json({ ...base, auth: { ...base.auth, algorithms: ['ES256'] }, psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } } }),
  'jwks-hangs.json': json({ ...base, auth: { ...base.auth, jwksUrl: hangingJwksUrl, jwksTimeoutMs: 300 }, psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } } }),
  'a-directory': {},
  'missing-import.mjs': "import 'no-such-package-for-doctor'\nexport default {}\n"
})

interface Run { how: string, code: number | null, stdout: string, stderr: string }

/**
 * Each case runs twice: the real command in a child process (through tsx, which starts in a
 * second where tap's loader takes several), and `main()` in this process, which is what tap's
 * coverage measures (a child compiled by another loader would garble it). Both must agree.
 */
async function doctor (...args: string[]): Promise<Run[]> {
  return await Promise.all([inChild(args), inProcess(args)])
}

function inChild (args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // No coverage from the tsx child: tap's process tracking re-adds its hooks to every child, and a
    // tsx child's coverage of lib/ does not line up with tap's, which corrupts the report.
    const env = { ...process.env, ...SECRETS, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COVERAGE_: '0' }
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], { cwd: dir, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', chunk => { stdout += chunk })
    child.stderr.on('data', chunk => { stderr += chunk })
    child.on('error', reject)
    child.on('close', code => resolve({ how: 'child process', code, stdout, stderr }))
  })
}

async function inProcess (args: string[]): Promise<Run> {
  const run = { how: 'main()', code: null as number | null, stdout: '', stderr: '' }
  const stdout = { write: (text: string) => { run.stdout += text } }
  const stderr = { write: (text: string) => { run.stderr += text } }
  run.code = await main(args, { stdout, stderr, cwd: dir })
  return run
}

/** A loopback port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

Object.assign(process.env, SECRETS)

function noSecrets (t: Test, run: Run) {
  for (const [name, secret] of Object.entries(SECRETS)) t.notOk((run.stdout + run.stderr).includes(secret), `${name} is never printed`)
}

// The runs start together; each test awaits its own.
const runs = {
  full: doctor('doctor', '--config', 'full.json'),
  adapters: doctor('doctor', '-c', 'adapters.mjs'),
  commonjs: doctor('doctor', '--config', 'commonjs.cjs'),
  missing: doctor('doctor', '--config', 'missing.json'),
  missingModule: doctor('doctor', '--config', 'missing.mjs'),
  broken: doctor('doctor', '--config', 'broken.json'),
  brokenSecret: doctor('doctor', '--config', 'broken-secret.json'),
  unquotedSecret: doctor('doctor', '--config', 'unquoted-secret.mjs'),
  jwksCredentials: doctor('doctor', '--config', 'jwks-credentials.json'),
  number: doctor('doctor', '--config', 'number.mjs'),
  unsetEnv: doctor('doctor', '--config', 'unset-env.json'),
  badKey: doctor('doctor', '--config', 'bad-key.json'),
  unknownAdapter: doctor('doctor', '--config', 'unknown-adapter.json'),
  notAnAdapter: doctor('doctor', '--config', 'not-an-adapter.json'),
  noIps: doctor('doctor', '--config', 'no-ips.json'),
  jwksDown: doctor('doctor', '--config', 'jwks-down.json'),
  jwksUnusable: doctor('doctor', '--config', 'jwks-unusable.json'),
  jwksHangs: doctor('doctor', '--config', 'jwks-hangs.json'),
  directory: doctor('doctor', '--config', 'a-directory'),
  missingImport: doctor('doctor', '--config', 'missing-import.mjs'),
  misspelled: doctor('doctr', '--config', 'full.json'),
  extra: doctor('doctor', 'full.json', '--config', 'full.json'),
  help: doctor('--help'),
  noCommand: doctor(),
  noConfig: doctor('doctor'),
  badOption: doctor('doctor', '--config', 'full.json', '--fix')
}

t.test('a JSON config: every check passes and the onboarding artefacts are printed', async t => {
  for (const run of await runs.full) {
    t.equal(run.code, 0, `${run.how}: ${run.stderr}`)
    t.equal(run.stderr, '', 'no progress display when stderr is not a terminal')
    t.match(run.stdout, '✔ config: loaded full.json')
    t.match(run.stdout, '✔ psps.stripe: stripe credentials are well formed')
    t.match(run.stdout, '✔ psps.adyen: adyen credentials are well formed')
    t.match(run.stdout, '✔ psps.braintree: braintree credentials are well formed')
    t.match(run.stdout, '✔ psps.checkoutCom: checkout.com credentials are well formed')
    t.match(run.stdout, '✔ options: valid (destinations: 1, PSPs: 4)')
    t.match(run.stdout, '- resolvePaymentMethod: not in the config, not checked')
    t.match(run.stdout, `✔ jwks ${jwks.url}: answers; usable signing keys: 1`)
    t.ok(jwks.requests >= 1, 'the JWKS was fetched over loopback')

    const artefacts = run.stdout.slice(run.stdout.indexOf('Onboarding artefacts'))
    for (const [key, name] of [['stripe', 'Stripe'], ['adyen', 'Adyen'], ['checkoutCom', 'Checkout.com']]) {
      t.match(artefacts, `psps.${key}: send ${name} these destination details for approval`)
    }
    t.match(artefacts, [
      '  COM.ROKT.CATALOG',
      '    url        https://pci.rokt.example/v1/cards',
      '    method     POST',
      '    headers    x-rokt-api-key (names only)',
      '    body       application/json',
      '    card data  /card/number (card number), /card/exp_month (expiry month), /card/exp_year (expiry year)',
      '    billing    /billing/postal_code (postal code)'
    ].join('\n'))
    // What to register or ask for at each PSP, so that the destination's key stays there.
    t.match(artefacts, '    expiry      ask Stripe to write card_expiry as a two-digit month (MM) and a four-digit year (YYYY)\n' +
      '    credentials give Stripe the value of x-rokt-api-key at onboarding: Stripe adds it, the adapter never sends it\n')
    t.match(artefacts, "    credentials x-rokt-api-key travels as Adyen's request.credentials, the header as {{credentials}}: nothing to register\n")
    t.match(artefacts, '    reconcile   subscribe to the forwardApi.notification webhook')
    t.match(artefacts, '    secret      create "rokt_api_key" with the Secrets API (POST https://forward.sandbox.checkout.com/secrets), holding the value of x-rokt-api-key\n')
    t.match(artefacts, '    sensitive   the header values travel in sensitive_data with each forward, never in the reviewed config')

    t.match(artefacts, 'psps.braintree: submit this Forward API config to Braintree for review, one per destination')
    const start = artefacts.indexOf('    {', artefacts.indexOf('psps.braintree'))
    const config = JSON.parse(artefacts.slice(start, artefacts.indexOf('\n    }\n', start) + 6))
    t.match(config, {
      name: 'rokt_catalog_v1',
      methods: ['POST'],
      url: '^https://pci\\.rokt\\.example/v1/cards$',
      types: ['CreditCard'],
      request_format: { '/body': 'json' }
    })
    t.same(config.transformations.slice(0, 2), [
      { path: '/header/x-rokt-api-key', value: '$header_1' },
      { path: '/body/card/number', value: '$number' }
    ])
    t.same(config.transformations.at(-1), { path: '/body/metadata/note', value: null })
    noSecrets(t, run)
  }
})

t.test('a module exporting a function: adapters built by the config, a pinned key, sandbox flags', async t => {
  for (const run of await runs.adapters) {
    t.equal(run.code, 0, `${run.how}: ${run.stderr}`)
    t.match(run.stdout, '✔ psps.stripe: stripe adapter built by the config')
    t.match(run.stdout, '✔ psps.spreedly: spreedly adapter built by the config')
    t.notMatch(run.stdout, 'resolvePaymentMethod: not in the config')
    t.match(run.stdout, '! allowInsecureUrls is on: plain http, for the sandbox only: never in production')
    t.match(run.stdout, '- jwks: none configured (a pinned key), nothing to fetch')
    t.match(run.stdout, 'psps.spreedly: send spreedly these destination details for approval')
    t.match(run.stdout, '    headers    none\n')
    t.match(run.stdout, '    card data  /pan (card number)\n')
    t.notMatch(run.stdout, '    billing')
    t.match(run.stdout, '(set "name" to the configName you give braintree())')
    t.match(run.stdout, '"name": "card_forwarding_COM.ROKT.TEST"')
    noSecrets(t, run)
  }
})

t.test('a CommonJS module: one Braintree config name for every destination', async t => {
  for (const run of await runs.commonjs) {
    t.equal(run.code, 0, `${run.how}: ${run.stderr}`)
    t.match(run.stdout, '✔ psps.braintree: braintree credentials are well formed')
    t.match(run.stdout, '"name": "rokt_all"')
    t.notMatch(run.stdout, 'set "name"')
  }
})

const failures: Array<[keyof typeof runs, string, RegExp | string]> = [
  ['missing', 'a config file that does not exist', `✖ config: missing.json does not exist (looked for ${join(dir, 'missing.json')})`],
  ['missingModule', 'a config module that does not exist', `✖ config: missing.mjs does not exist (looked for ${join(dir, 'missing.mjs')})`],
  ['directory', 'a config path that is a directory', '✖ config: a-directory is not a file'],
  ['missingImport', 'a config module importing a package that is not installed: the loader says which', /^✖ config: Cannot find (?:package|module) 'no-such-package-for-doctor'/],
  ['broken', 'a config file that is not JSON', /^✖ config: broken.json is not valid JSON$/m],
  ['brokenSecret', 'invalid JSON around a secret (the message of the parser would quote it)', /^✖ config: broken-secret.json is not valid JSON$/m],
  ['unquotedSecret', 'a module whose evaluation fails on a secret (the message of the engine would quote it)', /^✖ config: unquoted-secret.mjs failed to load \(ReferenceError; its message is not shown, it may quote the config\)$/m],
  ['jwksCredentials', 'a JWKS URL with credentials and a query: named by origin and path only', `✖ jwks ${deadJwksUrl}: no key set: connect ECONNREFUSED`],
  ['number', 'a module that does not export options', '✖ config: must export the plugin options: an object, or a function returning one'],
  ['unsetEnv', 'an environment variable the config names but is not set', '✖ config: psps.stripe.apiKey: environment variable DOCTOR_TEST_UNSET is not set'],
  ['badKey', 'a malformed PSP credential', '✖ psps.stripe: stripe: apiKey must start with sk_test_, sk_live_, rk_test_ or rk_live_ (a secret or restricted key), not pk_'],
  ['unknownAdapter', 'an adapter the package does not ship', '✖ psps.paypal: unknown adapter "paypal" (one of stripe, adyen, braintree, checkoutCom)'],
  ['notAnAdapter', 'a PSP that is neither an adapter nor a description of one', '✖ options: psps.stripe: not a PspAdapter (needs name, isRecord and forward)'],
  ['noIps', 'options the plugin refuses at registration', '✖ options: allowedIps: give at least one address or CIDR'],
  ['jwksDown', 'a JWKS URL that does not answer', `✖ jwks ${deadJwksUrl}: no key set: connect ECONNREFUSED`],
  ['jwksUnusable', 'a JWKS without a key for the configured algorithms', `✖ jwks ${jwks.url}: answers, but with no signing key usable with ES256`],
  ['jwksHangs', 'a JWKS that never answers: the timeout and the option that sets it', `✖ jwks ${hangingJwksUrl}: no key set: no answer within 300 ms ` +
    '(auth.jwksTimeoutMs, default 2500, sets how long the plugin waits)']
]
for (const [name, what, message] of failures) {
  t.test(`fails with a clear message: ${what}`, async t => {
    for (const run of await runs[name]) {
      t.equal(run.code, 1, run.how)
      t.match(run.stderr, message)
      t.equal(run.stderr.split('\n').filter(Boolean).length, 1, 'one line, on stderr')
      t.notMatch(run.stdout, 'Onboarding artefacts')
      noSecrets(t, run)
    }
  })
}

t.test('usage', async t => {
  for (const run of await runs.help) {
    t.equal(run.code, 0, run.how)
    t.match(run.stdout, 'Usage: fastify-rokt-card-forwarding doctor --config <file>')
  }
  for (const run of await runs.noCommand) {
    t.equal(run.code, 2, run.how)
    t.match(run.stderr, /^Usage: /)
  }
  for (const [name, problem] of [
    ['noConfig', 'doctor needs the config file: --config <file>'],
    ['misspelled', 'unknown command "doctr": the commands are doctor and reconcile'],
    ['extra', 'unexpected argument "full.json"']
  ] as const) {
    for (const run of await runs[name]) {
      t.equal(run.code, 2, `${name}, ${run.how}`)
      t.ok(run.stderr.startsWith(`${problem}\n\nUsage: `), run.stderr)
      t.equal(run.stdout, '')
    }
  }
  for (const run of await runs.badOption) {
    t.equal(run.code, 2, run.how)
    t.match(run.stderr, /^Unknown option '--fix'/)
  }
})

// The host's server options, given under "server" (docs/THREAT-MODEL.md A46): the timeouts are
// checked, and the throwaway app is built with them, so trustProxy is checked as at startup.
const withServer = (server: unknown) => json({ ...base, auth: { ...base.auth, jwksUrl: undefined, publicKey: rsa.publicKey }, psps: { stripe: { adapter: 'stripe', apiKey: 'sk_test_0000' } }, server })
writeFileSync(join(dir, 'server-off.json'), withServer({ trustProxy: '10.0.0.0/8', connectionTimeout: 0 }))
writeFileSync(join(dir, 'server-good.json'), withServer({ connectionTimeout: 60_000, requestTimeout: 15_000, keepAliveTimeout: 72_000 }))
writeFileSync(join(dir, 'server-proxy.json'), withServer({ trustProxy: true }))
writeFileSync(join(dir, 'server-bad.json'), withServer(['trustProxy']))

t.test('A46 the host\'s server timeouts: warned about when off, confirmed when set, said unchecked when not given', async t => {
  const [off, good, proxy, bad] = await Promise.all(['server-off.json', 'server-good.json', 'server-proxy.json', 'server-bad.json'].map(file => doctor('doctor', '--config', file)))
  for (const run of off) {
    t.equal(run.code, 0, `${run.how}: warnings, not failures`)
    t.match(run.stdout, '! server.requestTimeout is off: a client may take forever to send a request')
    t.match(run.stdout, '! server.connectionTimeout is off: an idle socket is never closed')
  }
  for (const run of good) {
    t.equal(run.code, 0, run.how)
    t.match(run.stdout, '✔ server: connectionTimeout and requestTimeout are set')
  }
  for (const run of proxy) {
    t.equal(run.code, 1, `${run.how}: trustProxy is checked as the plugin does at startup`)
    t.match(run.stderr, /^✖ options: trustProxy: true or a hop count/)
  }
  for (const run of bad) t.match([run.code, run.stderr], [1, /^✖ server: must be an object of Fastify server options/])
  for (const run of await runs.full) t.match(run.stdout, '- server: not in the config: your Fastify timeouts and trustProxy are not checked (give them under "server")')
})

t.test('piped into a reader that goes away (doctor | head): no EPIPE stack trace, the checks still decide the exit code', async t => {
  const env = { ...process.env, NODE_OPTIONS: '', _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'doctor', '--config', 'full.json'], { cwd: dir, env })
  // The reader is gone before the first line is written.
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  const code = await new Promise(resolve => child.on('close', resolve))
  t.equal(code, 0)
  t.equal(stderr, '', 'nothing on stderr: no EPIPE, no stack trace')
})

t.test('untilClosed: EPIPE closes the output, any other error is thrown', async t => {
  const listeners: Array<(err: NodeJS.ErrnoException) => void> = []
  const writes: string[] = []
  const stream = { isTTY: true, write: (text: string) => writes.push(text), on: (_event: 'error', listener: (err: NodeJS.ErrnoException) => void) => listeners.push(listener) }
  const out = untilClosed(stream)
  t.equal(out.isTTY, true)
  out.write('a')
  listeners[0](Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))
  out.write('b')
  t.same(writes, ['a'], 'nothing is written once the reader is gone')
  t.throws(() => listeners[0](Object.assign(new Error('write EIO'), { code: 'EIO' })), /EIO/)
})
