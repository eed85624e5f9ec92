import Fastify from 'fastify'
import cardForwarding from '../../index.ts'
import type { AuthOptions } from '../../types/index.ts'
import { AuthUnavailableError } from '../errors.ts'
import { createJwksKeySource } from '../edge/jwks.ts'
import { algorithmsFor } from '../options/auth.ts'
import { resolveOptions } from '../options/index.ts'
import { buildAdapter, isAdapterDescription } from './adapters.ts'
import { loadConfig } from './config.ts'
import { onboardingArtefacts, type BraintreeConfigName } from './onboarding.ts'
import { withSpinner, type Output } from './progress.ts'

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
    const resolved = await check('options', () => validate(options), r => `valid (destinations: ${r.destinations.size}, PSPs: ${r.adapters.size})`)
    if (unresolved) io.stdout.write('- resolvePaymentMethod: not in the config, not checked\n')
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

/** Registers the plugin in a throwaway app: the very checks the partner's server runs at startup. */
async function validate (options: Record<string, any>) {
  const app = Fastify({ logger: false })
  try {
    await app.register(cardForwarding, options as any)
    await app.ready()
  } finally {
    await app.close()
  }
  return resolveOptions(options as any)
}

/** Fetches the JWKS the way the plugin does and counts the keys it would accept. */
async function probeJwks (auth: AuthOptions & { jwksUrl: string }): Promise<number> {
  const algorithms = algorithmsFor(auth)
  const source = createJwksKeySource({ url: auth.jwksUrl, algorithms, timeoutMs: auth.jwksTimeoutMs })
  try {
    // An unknown kid makes the source fetch the key set; only a fetch that failed is an error here.
    await source.getKey('doctor-probe', algorithms[0]).catch((err: Error) => {
      if (err instanceof AuthUnavailableError) throw new Error(`no key set: ${(err.cause as Error).message}`)
    })
    if (source.size === 0) throw new Error(`answers, but with no signing key usable with ${algorithms.join(', ')}`)
    return source.size
  } finally {
    await source.close()
  }
}
