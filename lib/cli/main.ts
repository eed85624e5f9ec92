import { parseArgs } from 'node:util'
import { doctor, type DoctorIo } from './doctor.ts'
import { reconcile } from './reconcile.ts'

const USAGE = `Usage: fastify-rokt-card-forwarding doctor --config <file>
       fastify-rokt-card-forwarding reconcile --config <file> --psp <key> --correlation-id <rcf_…>
                                    [--psp-reference <id>] [--since <time>] [--until <time>] [--json]

doctor checks a fastify-rokt-card-forwarding config as the plugin will at startup, checks that
its JWKS URL answers with usable keys, and prints what each PSP needs for onboarding.

reconcile asks a PSP whether the forward with this correlation id (from a forward_unknown or
forward_failed audit event) happened, and what the destination answered. Exit code 0: found,
3: not found, 4: the PSP's API cannot tell (it says what can).

  --config, -c <file>    the plugin's options: a .js/.mjs/.cjs module whose default export is the
                         options (or a function returning them), or a .json file
  --psp <key>            reconcile: the key under psps of the PSP that made the forward
  --correlation-id <id>  reconcile: the audit event's correlationId
  --psp-reference <id>   reconcile: the audit event's pspReference (Checkout.com needs its fwd_ id)
  --since, --until <t>   reconcile: the window searched (Stripe): ISO-8601 or a span back from
                         now (90m, 6h, 7d). Default: the last 24 hours
  --json                 reconcile: the PSP's answer as JSON, with the destination's bodies
  --help, -h             this text
`

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  psp: { type: 'string' },
  'correlation-id': { type: 'string' },
  'psp-reference': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/** The command line: 0 success, 1 a check failed, 2 a usage error (reconcile: see USAGE). */
export async function main (argv: string[], io: DoctorIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { positionals, values } = parsed
  if (values.help === true) {
    io.stdout.write(USAGE)
    return 0
  }
  const [command, ...extra] = positionals
  const problem = usageProblem(command, extra, values)
  if (command === undefined || problem !== undefined) {
    io.stderr.write(problem === undefined
      ? USAGE
      : `${problem}

${USAGE}`)
    return 2
  }
  if (command === 'doctor') return await doctor(values.config as string, io)
  return await reconcile({
    config: values.config as string,
    psp: values.psp as string,
    correlationId: values['correlation-id'] as string,
    pspReference: values['psp-reference'],
    since: values.since,
    until: values.until,
    json: values.json
  }, io)
}

/** What is wrong with the command line, said plainly; undefined when it can run (or is empty: the usage). */
function usageProblem (command: string | undefined, extra: string[], values: Record<string, unknown>): string | undefined {
  if (command === undefined) return undefined
  if (command !== 'doctor' && command !== 'reconcile') return `unknown command "${command}": the commands are doctor and reconcile`
  if (extra.length > 0) return `unexpected argument "${extra[0]}"`
  if (values.config === undefined) return `${command} needs the config file: --config <file>`
  if (command === 'reconcile' && values.psp === undefined) return 'reconcile needs the PSP: --psp <key under psps>'
  if (command === 'reconcile' && values['correlation-id'] === undefined) return 'reconcile needs the forward: --correlation-id <rcf_… from the audit event>'
  return undefined
}
