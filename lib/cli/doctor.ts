import Fastify from 'fastify'
import cardForwarding from '../../index.ts'
import type { AuthOptions } from '../../types/index.ts'
import { AuthUnavailableError } from '../errors.ts'
import { createJwksKeySource, DEFAULT_JWKS_TIMEOUT_MS } from '../edge/jwks.ts'
import { algorithmsFor } from '../options/auth.ts'
import { resolveOptions } from '../options/index.ts'
import { serverTimeoutWarnings } from '../options/server.ts'
import { buildAdapter, isAdapterDescription } from './adapters.ts'
import { loadConfig } from './config.ts'
import { onboardingArtefacts, type BraintreeConfigName } from './onboarding.ts'
import { withSpinner, type Output } from './progress.ts'

/** The host's Fastify server options a config's `server` key may give: the doctor's throwaway app is built with them. */
const SERVER_OPTIONS = ['trustProxy', 'connectionTimeout', 'requestTimeout', 'keepAliveTimeout'] as const
const RISKY_FLAGS = {
  allowInsecureUrls: 'plain http, for the sandbox only: never in production',
  allowUnsafeTrustProxy: 'request.ip, and so the IP allowlist, may be spoofed'
}

export interface DoctorIo {
  stdout: Output
  stderr: Output
  cwd: string
}

/**
 * Checks a partner's config the way the plugin will at startup, then the JWKS over the network,
 * and prints what each PSP needs for onboarding. 0 when all is well, 1 at the first failure.
 */
export async function doctor (configFile: string, io: DoctorIo): Promise<number> {
  async function check<T> (label: string, task: () => Promise<T>, done: (value: T) => string): Promise<T> {
    let value: T
    try {
      value = await withSpinner(io.stderr, label, task)
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`, { cause: err })
    }
    io.stdout.write(`✔ ${label}: ${done(value)}\n`)
    return value
  }

  try {
    const options = await check('config', () => loadConfig(configFile, io.cwd), () => `loaded ${configFile}`)
    // Not a plugin option: what the partner's server passes to Fastify(), for the checks that depend on it.
    const server = serverSettings(options.server)
    delete options.server
    const braintreeNames = new Map<string, BraintreeConfigName>()
    for (const [key, value] of Object.entries(Object(options.psps)) as Array<[string, any]>) {
      if (isAdapterDescription(value)) {
        options.psps[key] = await check(`psps.${key}`, async () => buildAdapter(value), adapter => `${adapter.name} credentials are well formed`)
        if (value.adapter === 'braintree') braintreeNames.set(key, value.configName)
      } else if (typeof Object(value).forward === 'function') {
        io.stdout.write(`✔ psps.${key}: ${String(value.name)} adapter built by the config\n`)
      }
    }
    const unresolved = options.resolvePaymentMethod === undefined
    /* c8 ignore next: a stand-in the doctor never calls (it sends no request) */
    if (unresolved) options.resolvePaymentMethod = () => null
    const resolved = await check('options', () => validate(options, server ?? {}), r => `valid (destinations: ${r.destinations.size}, PSPs: ${r.adapters.size})`)
    if (unresolved) io.stdout.write('- resolvePaymentMethod: not in the config, not checked\n')
    if (server === undefined) {
      io.stdout.write('- server: not in the config: your Fastify timeouts and trustProxy are not checked (give them under "server")\n')
    } else {
      const warnings = serverTimeoutWarnings(server)
      for (const warning of warnings) io.stdout.write(`! server.${warning}\n`)
      if (warnings.length === 0) io.stdout.write('✔ server: connectionTimeout and requestTimeout are set\n')
    }
    for (const [flag, why] of Object.entries(RISKY_FLAGS)) {
      if (options[flag] === true) io.stdout.write(`! ${flag} is on: ${why}\n`)
    }
    const jwksUrl = options.auth.jwksUrl
    if (typeof jwksUrl === 'string') {
      // Origin and path only: a JWKS URL may carry credentials or a query.
      const { origin, pathname } = new URL(jwksUrl)
      await check(`jwks ${origin}${pathname}`, () => probeJwks(options.auth), count => `answers; usable signing keys: ${count}`)
    } else {
      io.stdout.write('- jwks: none configured (a pinned key), nothing to fetch\n')
    }
    io.stdout.write(`\nOnboarding artefacts\n\n${onboardingArtefacts(options.psps, braintreeNames, [...resolved.destinations.values()])}`)
    return 0
  } catch (err) {
    io.stderr.write(`✖ ${(err as Error).message}\n`)
    return 1
  }
}

function serverSettings (server: unknown): Record<string, any> | undefined {
  if (server === undefined) return undefined
  if (server === null || typeof server !== 'object' || Array.isArray(server)) throw new Error(`server: must be an object of Fastify server options (${SERVER_OPTIONS.join(', ')})`)
  return Object.fromEntries(SERVER_OPTIONS.filter(name => Object.hasOwn(server, name)).map(name => [name, (server as Record<string, unknown>)[name]]))
}

/** Registers the plugin in a throwaway app built with the host's server options: the very checks the partner's server runs at startup. */
async function validate (options: Record<string, any>, server: Record<string, any>) {
  const app = Fastify({ ...server, logger: false })
  try {
    await app.register(cardForwarding, options as any)
    await app.ready()
  } finally {
    await app.close()
  }
  return resolveOptions(options as any, { trustProxy: server.trustProxy })
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** Why a JWKS fetch failed; a timeout says how long was waited and which option sets it. */
function fetchFailure (cause: unknown, timeoutMs: number): string {
  const { name, code, message } = cause as { name?: string, code?: string, message: string }
  if (name !== 'TimeoutError' && !TIMEOUT_CODES.has(String(code))) return message
  return `no answer within ${timeoutMs} ms (auth.jwksTimeoutMs, default ${DEFAULT_JWKS_TIMEOUT_MS}, sets how long the plugin waits)`
}

/** Fetches the JWKS the way the plugin does and counts the keys it would accept. */
async function probeJwks (auth: AuthOptions & { jwksUrl: string }): Promise<number> {
  const algorithms = algorithmsFor(auth)
  const source = createJwksKeySource({ url: auth.jwksUrl, algorithms, timeoutMs: auth.jwksTimeoutMs })
  try {
    // An unknown kid makes the source fetch the key set; only a fetch that failed is an error here.
    await source.getKey('doctor-probe', algorithms[0]).catch((err: Error) => {
      if (err instanceof AuthUnavailableError) throw new Error(`no key set: ${fetchFailure(err.cause, auth.jwksTimeoutMs ?? DEFAULT_JWKS_TIMEOUT_MS)}`)
    })
    if (source.size === 0) throw new Error(`answers, but with no signing key usable with ${algorithms.join(', ')}`)
    return source.size
  } finally {
    await source.close()
  }
}
