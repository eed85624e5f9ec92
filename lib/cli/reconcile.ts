import type { PspAdapter, ReconcileResult } from '../../types/index.ts'
import { buildAdapter, isAdapterDescription } from './adapters.ts'
import { loadConfig } from './config.ts'
import type { DoctorIo } from './doctor.ts'
import { withSpinner } from './progress.ts'

export interface ReconcileArgs {
  config: string
  /** The key under `psps` of the adapter that made the forward (the audit event's psp is its name). */
  psp: string
  correlationId: string
  pspReference?: string
  /** An ISO-8601 time, or a span back from now: `90m`, `6h`, `7d`. */
  since?: string
  until?: string
  json?: boolean
}

/** What the command's exit code says: the PSP found the forward (0), found none (3), cannot tell (4). */
const EXIT: Record<ReconcileResult['outcome'], number> = { found: 0, not_found: 3, cannot_tell: 4 }
const CORRELATION_ID = /^rcf_[0-9a-f]{32}$/
const SPAN = /^(\d{1,6})([mhd])$/
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 }

/** A time given on the command line: ISO-8601, or a span before `now`. */
export function parseTime (text: string, flag: string, now = Date.now()): Date {
  const span = SPAN.exec(text)
  const time = span === null ? new Date(text) : new Date(now - Number(span[1]) * UNIT_MS[span[2] as 'm' | 'h' | 'd'])
  if (Number.isNaN(time.getTime())) throw new Error(`${flag} must be an ISO-8601 time or a span such as 90m, 6h or 7d`)
  return time
}

/** Text from the PSP's answer, for a terminal: control characters (escape sequences) never reach it. */
function printable (text: unknown): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
}

function summary (key: string, adapter: PspAdapter<any>, args: ReconcileArgs, result: ReconcileResult): string {
  const who = `psps.${key} (${printable(adapter.name)})`
  if (result.outcome === 'cannot_tell') return `- ${who}: the API cannot tell. ${printable(result.how)}\n`
  if (result.outcome === 'not_found') return `- ${who}: no forward with correlation id ${args.correlationId} in ${printable(result.searched)}\n`
  const lines = result.forwards.map(f => `  ${printable(f.pspReference)}  created ${printable(f.createdAt)}  ` +
    (f.destination === undefined ? 'the destination did not answer' : `the destination answered ${f.destination.status}`))
  return `✔ ${who}: ${result.forwards.length} forward${result.forwards.length === 1 ? '' : 's'} with correlation id ${args.correlationId}\n${lines.join('\n')}\n`
}

/**
 * Asks the PSP whether a forward happened (the runbook's "outcome unknown"): loads the config as
 * doctor does, builds only the named PSP's adapter and calls its `reconcile`. The destination's
 * answer bodies are printed with --json only. Exit codes: EXIT, 1 on a failure.
 */
export async function reconcile (args: ReconcileArgs, io: DoctorIo): Promise<number> {
  let adapter: PspAdapter<any> | undefined
  let code = 1
  try {
    if (!CORRELATION_ID.test(args.correlationId)) throw new Error('--correlation-id must be a correlation id from the audit log (rcf_ and 32 hex digits)')
    const since = args.since === undefined ? undefined : parseTime(args.since, '--since')
    const until = args.until === undefined ? undefined : parseTime(args.until, '--until')
    const options = await loadConfig(args.config, io.cwd)
    const entry = Object(options.psps)[args.psp]
    if (entry === undefined) throw new Error(`psps.${args.psp} is not in ${args.config} (one of: ${Object.keys(Object(options.psps)).join(', ')})`)
    adapter = isAdapterDescription(entry) ? buildAdapter(entry) : entry as PspAdapter<any>
    const found = adapter
    if (typeof found.reconcile !== 'function') throw new Error(`psps.${args.psp} (${String(found.name)}) has no reconcile method: ask the PSP`)
    const result = await withSpinner(io.stderr, `asking ${found.name}`, () =>
      (found.reconcile as NonNullable<PspAdapter['reconcile']>)(args.correlationId, { pspReference: args.pspReference, since, until }))
    io.stdout.write(args.json === true ? `${JSON.stringify(result, null, 2)}\n` : summary(args.psp, found, args, result))
    code = EXIT[result.outcome]
  } catch (err) {
    // A PSP refusal names its code (authentication_error, …), never the PSP's text.
    const error = err as Error & { reason?: string }
    io.stderr.write(`✖ reconcile: ${error.reason === undefined ? error.message : `the lookup at psps.${args.psp} failed: ${error.reason}`}\n`)
  }
  if (typeof adapter?.close === 'function') await adapter.close()
  return code
}
