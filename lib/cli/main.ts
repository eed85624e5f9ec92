import { parseArgs } from 'node:util'
import { doctor, type DoctorIo } from './doctor.ts'

const USAGE = `Usage: fastify-rokt-card-forwarding doctor --config <file>

Checks a fastify-rokt-card-forwarding config as the plugin will at startup, checks that its
JWKS URL answers with usable keys, and prints what each PSP needs for onboarding.

  --config, -c <file>  the plugin's options: a .js/.mjs/.cjs module whose default export is the
                       options (or a function returning them), or a .json file
  --help, -h           this text
`

/** The command line: 0 success, 1 a check failed, 2 a usage error. */
export async function main (argv: string[], io: DoctorIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } })
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
  const problem = command === undefined
    ? undefined
    : command !== 'doctor'
      ? `unknown command "${command}": the command is doctor`
      : extra.length > 0
        ? `unexpected argument "${extra[0]}"`
        : values.config === undefined ? 'doctor needs the config file: --config <file>' : undefined
  if (command === undefined || problem !== undefined) {
    io.stderr.write(problem === undefined ? USAGE : `${problem}\n\n${USAGE}`)
    return 2
  }
  return await doctor(values.config as string, io)
}
