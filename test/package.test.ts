import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

// Builds, packs and installs the package as a partner would: slow, hence its own timeout.
t.setTimeout(300_000)

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const NAME = 'fastify-rokt-card-forwarding'
// The children are plain npm and node processes: no test loader, no coverage hooks.
const env = { ...process.env, NODE_OPTIONS: '' }
const exec = promisify(execFile)

async function run (command: string, args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 })
  return stdout
}

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

const dir = t.testdir({
  project: {
    'package.json': JSON.stringify({ name: 'partner-app', version: '1.0.0', private: true }),
    'require.cjs': consumer(`
const Fastify = require('fastify')
const pkg = require('${NAME}')
const sandbox = require('${NAME}/sandbox')
const openapi = require('${NAME}/openapi.json')
const entry = require.resolve('${NAME}')
const redisLoadedByMain = Object.keys(require.cache).some(path => /stores[\\/]redis|ioredis/.test(path))
const loadRedis = async () => require('${NAME}/redis')`),
    'import.mjs': consumer(`
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

await run('npm', ['run', 'build'], ROOT)
const [packed] = JSON.parse(await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT))
// Offline when the npm cache has everything (it does after npm ci); else npm may fetch metadata.
await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', join(dir, packed.filename), 'fastify'], project)

t.test('the tarball holds only dist, docs, README, LICENSE and CHANGELOG', async t => {
  const paths: string[] = packed.files.map((file: { path: string }) => file.path)
  t.same(paths.filter(path => !/^(?:dist\/|docs\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(path)), [])
  for (const path of ['README.md', 'LICENSE', 'CHANGELOG.md', 'docs/THREAT-MODEL.md', 'dist/openapi.json', 'dist/cjs/package.json', 'dist/esm/lib/cli/bin.js']) {
    t.ok(paths.includes(path), path)
  }
  t.notOk(paths.some(path => path.endsWith('.tst.js') || path.endsWith('.map')), 'no type tests or source maps')
})

for (const [style, file, entry] of [['require', 'require.cjs', '/dist/cjs/index.js'], ['import', 'import.mjs', '/dist/esm/index.js']]) {
  t.test(`${style}: the plugin registers its route in a Fastify app`, async t => {
    const report = JSON.parse(await run(process.execPath, [file], project))
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
  const usage = await run(join(project, 'node_modules/.bin', NAME), ['--help'], project)
  t.match(usage, 'Usage: fastify-rokt-card-forwarding doctor --config <file>')
})
