// Every TypeScript block of the README compiles under strict TypeScript, against the package's
// own sources (as `fastify-rokt-card-forwarding` and `/sandbox`), with the names below declared.
import { join } from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { ROOT } from './helpers/partner-project.ts'
import { snippets, type Snippet } from './helpers/readme.ts'

/**
 * What a snippet may use without declaring it: the host app, and the parts of the options that
 * another section shows. Kept small: a snippet that needs more should declare it.
 */
const PREAMBLE = `import type { FastifyInstance } from 'fastify'
import type { CardForwardingOptions, DestinationOptions, PspAdapter, StripeVaultRecord } from 'fastify-rokt-card-forwarding'
declare global {
  /** The partner's Fastify app. */
  const app: FastifyInstance
  /** The plugin, as the Usage section imports it. */
  const cardForwarding: typeof import('fastify-rokt-card-forwarding').default
  /** The Usage section's options, whole, or in parts. */
  const options: CardForwardingOptions
  const allowedIps: string[]
  const auth: CardForwardingOptions['auth']
  const psps: { stripe: PspAdapter<StripeVaultRecord> }
  const resolvePaymentMethod: CardForwardingOptions<typeof psps>['resolvePaymentMethod']
  const destinations: Record<string, DestinationOptions>
  /** The partner's database, as the Usage section's resolver reads it. */
  const db: { findVaultedCard: (reference: string) => Promise<{ stripePaymentMethodId: string, email: string } | null> }
  /** The ioredis client of "Running several instances". */
  const redis: import('ioredis').Redis
}
`
/** A block that starts with `name:` is a part of the options object: checked as one. */
const FRAGMENT_HEAD = `import { adyen, braintree, checkoutCom, stripe, type CardForwardingOptions } from 'fastify-rokt-card-forwarding'
export const fragment: Partial<CardForwardingOptions> = {
`
const EXPECTED_ERROR = /^\s*\/\/ \^ error: (.+)$/

const dir = join(ROOT, '.readme-snippets')
const blocks = snippets().filter(snippet => snippet.lang === 'ts')
const isFragment = (snippet: Snippet) => /^[A-Za-z_$][\w$]*\s*:/.test(snippet.code.split('\n').find(line => line.trim() !== '' && !line.trim().startsWith('//')) ?? '')
const files = new Map<string, { snippet: Snippet, text: string, offset: number }>()
for (const snippet of blocks) {
  const [head, tail] = isFragment(snippet) ? [FRAGMENT_HEAD, '\n}\n'] : ['', '\nexport {}\n']
  files.set(join(dir, `readme-${snippet.line}.ts`), { snippet, text: head + snippet.code + tail, offset: head.split('\n').length - 1 })
}
const preambleFile = join(dir, 'preamble.ts')

const config = ts.parseJsonConfigFileContent({
  compilerOptions: {
    strict: true,
    target: 'es2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    noEmit: true,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: ['node'],
    paths: {
      'fastify-rokt-card-forwarding': ['./index.ts'],
      'fastify-rokt-card-forwarding/sandbox': ['./lib/sandbox/index.ts'],
      'fastify-rokt-card-forwarding/redis': ['./lib/stores/redis.ts']
    }
  }
}, ts.sys, ROOT)
const host = ts.createCompilerHost(config.options)
const virtual = (file: string) => file === preambleFile ? PREAMBLE : files.get(file)?.text
const { getSourceFile, fileExists, readFile } = host
host.getSourceFile = (file, language, ...rest) => {
  const text = virtual(file)
  return text === undefined ? getSourceFile.call(host, file, language, ...rest) : ts.createSourceFile(file, text, language)
}
host.fileExists = file => virtual(file) !== undefined || fileExists.call(host, file)
host.readFile = file => virtual(file) ?? readFile.call(host, file)
const program = ts.createProgram([preambleFile, ...files.keys()], config.options, host)

t.test('the README has TypeScript blocks, and options fragments among them', async t => {
  t.ok(blocks.length >= 10, `${blocks.length} blocks`)
  t.ok(blocks.some(isFragment))
  t.same(ts.getPreEmitDiagnostics(program, program.getSourceFile(preambleFile)).map(d => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'the preamble compiles')
})

for (const [file, { snippet, offset }] of files) {
  t.test(`README.md:${snippet.line} compiles`, async t => {
    const source = program.getSourceFile(file)!
    const lines = snippet.code.split('\n')
    const expected = lines.flatMap((line, i) => {
      const m = EXPECTED_ERROR.exec(line)
      return m === null ? [] : [{ line: i - 1, text: m[1] }]
    })
    const found = ts.getPreEmitDiagnostics(program, source).map(d => ({
      line: d.start === undefined ? -1 : source.getLineAndCharacterOfPosition(d.start).line - offset,
      text: ts.flattenDiagnosticMessageText(d.messageText, '\n')
    }))
    const unexpected = found.filter(d => !expected.some(e => e.line === d.line && d.text.includes(e.text)))
    t.same(unexpected.map(d => `README.md:${snippet.line + d.line}: ${d.text}`), [], 'no error but the ones the block announces')
    for (const e of expected) {
      t.ok(found.some(d => d.line === e.line && d.text.includes(e.text)), `README.md:${snippet.line + e.line} has the announced error: ${e.text}`)
    }
  })
}
