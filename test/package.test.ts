// The package as a partner gets it: packed from a tree with no build (prepack builds), installed
// into a fresh project, loaded in CommonJS and ESM, compiled under strict TypeScript against every
// shipped declaration, and the README's own apps run against the sandbox.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import { COMPILERS, NAME, NODE_TYPES, packFromCleanTree, ROOT, run, versionOf, writeTsconfig } from './helpers/partner-project.ts'
import { snippetFile } from './helpers/readme.ts'

// Builds, packs and installs the package as a partner would: slow, hence its own timeout.
t.setTimeout(420_000)

/** Registers the plugin from the installed package and reports what a partner would see. */
const consumer = (load: string) => `${load}
async function check () {
  const app = Fastify({ logger: false })
  const keys = sandbox.generateTestKeys('RS256', 'k1')
  await app.register(pkg.default, pkg.cardForwardingOptions({
    allowedIps: ['127.0.0.1'],
    auth: { publicKey: keys.publicKey, issuer: 'https://idp.example/', audience: 'rokt' },
    psps: { stripe: pkg.stripe({ apiKey: sandbox.STRIPE_SANDBOX_API_KEY }) },
    resolvePaymentMethod: () => null,
    destinations: { 'COM.ROKT.CATALOG': { url: 'https://rokt.example/cards' } }
  }))
  await app.ready()
  const res = await app.inject({ method: 'POST', url: '/v1/initiate-payment-sharing', remoteAddress: '127.0.0.1', payload: {} })
  const report = {
    entry,
    route: app.hasRoute({ method: 'POST', url: '/v1/initiate-payment-sharing' }),
    unauthenticated: [res.statusCode, res.json().code],
    named: pkg.cardForwarding === pkg.default,
    errorClass: new pkg.PspError('stripe', 'card_declined') instanceof pkg.errors.PspError,
    sandbox: typeof sandbox.startStripeSimulator,
    openapi: Object.keys(openapi.paths),
    redisLoadedByMain,
    redis: typeof (await loadRedis()).redisIdempotencyStore
  }
  await app.close()
  console.log(JSON.stringify(report))
}
check()
`

/** CommonJS TypeScript (a .cts file): the require condition's declarations, used through their types. */
const TYPED_CJS = `import Fastify from 'fastify'
import cardForwarding, { cardForwardingOptions, errors, stripe, type AuditEvent, type VaultedPaymentMethod } from '${NAME}'
import { generateTestKeys, mintToken, type StripeSimulator, type TestKeyPair } from '${NAME}/sandbox'

const keys: TestKeyPair = generateTestKeys('EdDSA')
const psps = { stripe: stripe({ apiKey: 'rk_test_0123456789abcdef' }) }
const record: VaultedPaymentMethod<typeof psps> = { psp: 'stripe', paymentMethod: 'pm_card_visa' }
const audits: AuditEvent[] = []
export async function start (simulator: StripeSimulator): Promise<string> {
  const app = Fastify()
  await app.register(cardForwarding, cardForwardingOptions({
    allowedIps: ['203.0.113.0/24'],
    auth: { publicKey: keys.publicKey, issuer: 'https://idp.example/', audience: 'rokt' },
    psps,
    resolvePaymentMethod: async () => record,
    destinations: { 'COM.ROKT.CATALOG': { url: simulator.url } },
    onAudit: event => { audits.push(event) }
  }))
  const failure: unknown = new errors.PspError('stripe', 'card_declined')
  if (failure instanceof errors.PspError) console.log(failure.code)
  return mintToken(keys, { issuer: 'https://idp.example/', audience: 'rokt', clientId: 'rokt' })
}
`

const apps = { ts: snippetFile('app.ts'), cjs: snippetFile('app.cjs') }
const dir = t.testdir({
  project: {
    'package.json': JSON.stringify({ name: 'partner-app', version: '1.0.0', private: true, type: 'module' }),
    'app.ts': apps.ts.code,
    // The README's TypeScript app has no type annotation: it is the ESM JavaScript app too.
    'app.mjs': apps.ts.code,
    'app.cjs': apps.cjs.code,
    'typed.cts': TYPED_CJS,
    'report.cjs': consumer(`
const Fastify = require('fastify')
const pkg = require('${NAME}')
const sandbox = require('${NAME}/sandbox')
const openapi = require('${NAME}/openapi.json')
const entry = require.resolve('${NAME}')
const redisLoadedByMain = Object.keys(require.cache).some(path => /stores[\\/]redis|ioredis/.test(path))
const loadRedis = async () => require('${NAME}/redis')`),
    'report.mjs': consumer(`
import Fastify from 'fastify'
import * as pkg from '${NAME}'
import * as sandbox from '${NAME}/sandbox'
import openapi from '${NAME}/openapi.json' with { type: 'json' }
const entry = import.meta.resolve('${NAME}')
const redisLoadedByMain = null
const loadRedis = () => import('${NAME}/redis')`)
  }
})
const project = join(dir, 'project')

const packed = await packFromCleanTree(dir)
// Offline when the npm cache has everything (it does after npm ci); else npm may fetch metadata.
const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=warn', join(dir, packed.filename), 'fastify'], project)

t.test('npm pack builds (prepack) and the tarball holds only dist, docs, README, LICENSE and CHANGELOG', async t => {
  t.equal(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.prepack, 'npm run build')
  const paths: string[] = packed.files.map(file => file.path)
  t.same(paths.filter(path => !/^(?:dist\/|docs\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(path)), [])
  for (const path of ['README.md', 'LICENSE', 'CHANGELOG.md', 'docs/THREAT-MODEL.md', 'dist/openapi.json', 'dist/cjs/package.json', 'dist/esm/lib/cli/bin.js',
    'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/lib/sandbox/index.d.ts']) {
    t.ok(paths.includes(path), path)
  }
  t.notOk(paths.some(path => path.endsWith('.tst.js') || path.endsWith('.map')), 'no type tests or source maps')
})

for (const [style, file, entry] of [['require', 'report.cjs', '/dist/cjs/index.js'], ['import', 'report.mjs', '/dist/esm/index.js']]) {
  t.test(`${style}: the plugin registers its route in a Fastify app`, async t => {
    const report = JSON.parse((await run(process.execPath, [file], project)).stdout)
    t.ok(report.entry.endsWith(`node_modules/${NAME}${entry}`), report.entry)
    t.equal(report.route, true)
    t.same(report.unauthenticated, [401, 'CARD_FORWARDING_UNAUTHORIZED'])
    t.equal(report.named, true, 'default and named exports are the same plugin')
    t.equal(report.errorClass, true, 'error classes exported by name and under errors')
    t.equal(report.sandbox, 'function')
    t.same(report.openapi, ['/v1/initiate-payment-sharing'])
    t.equal(report.redis, 'function', 'the Redis store from its subpath, with no Redis client installed')
    if (style === 'require') t.equal(report.redisLoadedByMain, false, 'the main entry loaded nothing of it')
  })
}

t.test('neither build\'s main entry reaches the Redis store or a Redis client, through any import', async t => {
  const installed = join(project, 'node_modules', NAME)
  for (const build of ['esm', 'cjs']) {
    const seen = new Set<string>()
    const packages = new Set<string>()
    const walk = (file: string): void => {
      if (seen.has(file)) return
      seen.add(file)
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\(|require\()\s*['"]([^'"]+)['"]/g)) {
        if (spec.startsWith('.')) walk(join(dirname(file), spec))
        else packages.add(spec)
      }
    }
    walk(join(installed, `dist/${build}/index.js`))
    t.ok(seen.size > 20, `${build}: ${seen.size} modules reached`)
    t.notOk([...seen].some(file => file.includes('stores/redis')), `${build}: the Redis store is not among them`)
    t.notOk([...packages].some(name => /ioredis|^redis$/.test(name)), `${build}: nor a Redis client (${[...packages].sort().join(', ')})`)
  }
})

/** The README's apps print `200 {…}`: the relayed answer of the fake Rokt destination. */
function assertForwarded (t: Test, stdout: string) {
  const line = stdout.split('\n').find(l => l.startsWith('200 '))
  t.ok(line, `a 200 line in:\n${stdout}`)
  const answer = JSON.parse(line!.slice(4))
  t.match(answer, { status: 200, body: { status: 'tokenized', last4: '4242' } })
  t.type(answer['request-time'], 'number')
  t.notMatch(stdout, '4242424242424242', 'the PAN is not printed')
}

t.test('the README app (README.md:' + apps.ts.line + ') forwards through the sandbox in ESM, and its CommonJS form too', async t => {
  assertForwarded(t, (await run(process.execPath, ['app.mjs'], project)).stdout)
  assertForwarded(t, (await run(process.execPath, ['app.cjs'], project)).stdout)
})

t.test('strict TypeScript, skipLibCheck false: every shipped declaration compiles with TypeScript 5.9 and 7, @types/node 20 and the latest', async t => {
  t.equal(versionOf(NODE_TYPES['@types/node 20']).split('.')[0], '20')
  t.ok(Number(versionOf(NODE_TYPES['@types/node latest']).split('.')[0]) >= 26, 'the latest major, where node:crypto no longer exports JsonWebKey')
  t.equal(versionOf(join(COMPILERS['TypeScript 7'], '../..')).split('.')[0], '7')
  let n = 0
  for (const [types, typesDir] of Object.entries(NODE_TYPES)) {
    const tsconfig = writeTsconfig(project, `check${n++}`, typesDir, { noEmit: true }, ['app.ts', 'typed.cts'])
    for (const [compiler, tsc] of Object.entries(COMPILERS)) {
      const result = await run(process.execPath, [tsc, '-p', tsconfig], project).catch((err: Error & { stdout: string, stderr: string }) => ({ stdout: err.stdout, stderr: err.stderr || err.message }))
      t.same(result, { stdout: '', stderr: '' }, `${compiler}, ${types}: no error`)
    }
  }
})

t.test('the README app compiled by tsc runs: 200 through the sandbox', async t => {
  const tsconfig = writeTsconfig(project, 'emit', NODE_TYPES['@types/node 20'], { outDir: 'out' }, ['app.ts'])
  await run(process.execPath, [COMPILERS['TypeScript 5.9'], '-p', tsconfig], project)
  assertForwarded(t, (await run(process.execPath, ['out/app.js'], project)).stdout)
})

t.test('Node 20: the only engine warning of an install is cookie@2, which fastify pulls in for app.inject() only', async t => {
  // npm warns `EBADENGINE Unsupported engine { package: 'cookie@2.0.2', required: { node: '>=22' } … }` on Node 20.
  const warned = [...install.stderr.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map(m => m[1])
  t.ok(warned.every(pkg => pkg.startsWith('cookie@')), `warned: ${warned.join(', ') || 'none'}`)
  const tree = JSON.parse((await run('npm', ['ls', 'cookie', '--all', '--json'], project)).stdout)
  const paths: string[] = []
  const walk = (node: { dependencies?: Record<string, any> }, path: string[]) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (name === 'cookie') paths.push([...path, `cookie@${child.version}`].join(' > '))
      else walk(child, [...path, name])
    }
  }
  walk(tree, [])
  t.ok(paths.length > 0 && paths.every(path => path.startsWith('fastify > light-my-request > cookie@')), paths.join('\n'))
  t.notMatch(readFileSync(join(project, 'node_modules', NAME, 'package.json'), 'utf8'), 'light-my-request', 'not one of ours')
})

t.test('the CommonJS build is CommonJS, with its own declarations', async t => {
  const installed = join(project, 'node_modules', NAME)
  t.same(JSON.parse(readFileSync(join(installed, 'dist/cjs/package.json'), 'utf8')), { type: 'commonjs' })
  t.match(readFileSync(join(installed, 'dist/cjs/index.d.ts'), 'utf8'), 'export declare function cardForwardingOptions')
  t.match(readFileSync(join(installed, 'dist/esm/index.d.ts'), 'utf8'), 'export declare function cardForwardingOptions')
})

t.test('the shipped openapi.json is the document in the repository', async t => {
  const shipped = readFileSync(join(project, 'node_modules', NAME, 'dist/openapi.json'), 'utf8')
  t.equal(shipped, readFileSync(join(ROOT, 'openapi/rokt-card-forwarding.openapi.json'), 'utf8'))
})

t.test('npx fastify-rokt-card-forwarding runs the installed bin', async t => {
  const usage = (await run(join(project, 'node_modules/.bin', NAME), ['--help'], project)).stdout
  t.match(usage, 'Usage: fastify-rokt-card-forwarding doctor --config <file>')
})
