import { createPublicKey } from 'node:crypto'
import type { AuthOptions, AuthPreset } from '../../types/index.ts'
import type { AuthSettings } from '../edge/auth.ts'
import { authPresets } from '../edge/auth-presets.ts'
import { keyWeakness, minimumSecretBytes } from '../edge/key-strength.ts'
import { checkInteger, httpsUrl, isNonEmptyStrings, SCOPE_TOKEN } from '../checks.ts'

const HMAC = ['HS256', 'HS384', 'HS512']
const RSA = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const ASYMMETRIC = [...RSA, 'ES256', 'ES384', 'ES512', 'EdDSA']
const CLAIM_NAME = /^[\w.:-]{1,64}$/

export function resolveAuth (auth: AuthOptions): AuthSettings {
  checkAuthOptions(auth)
  const maxAgeSeconds = auth.maxTokenAgeSeconds ?? 900
  return {
    options: auth,
    algorithms: algorithmsFor(auth),
    conventions: conventionsFor(auth),
    leewayMs: (auth.clockToleranceSeconds ?? 30) * 1000,
    maxAgeSeconds,
    maxLifetimeSeconds: auth.maxTokenLifetimeSeconds ?? maxAgeSeconds,
    tokenCacheSize: auth.tokenCacheSize ?? 100,
    allowedClients: auth.allowedClientIds === undefined ? null : new Set(auth.allowedClientIds)
  }
}

/** The algorithms a key allows: one family, derived from the key itself (RFC 8725 §3.1). */
export function algorithmsFor (auth: AuthOptions): string[] {
  let family: string[]
  if (auth.secret !== undefined) {
    family = HMAC
  } else if (auth.publicKey !== undefined) {
    const key = createPublicKey(auth.publicKey)
    const weakness = keyWeakness(key)
    if (weakness !== null) throw new Error(`auth.publicKey: ${weakness}`)
    const type = key.asymmetricKeyType
    const curve = key.asymmetricKeyDetails?.namedCurve
    if (type === 'rsa') family = RSA
    else if (type === 'ec' && curve === 'prime256v1') family = ['ES256']
    else if (type === 'ec' && curve === 'secp384r1') family = ['ES384']
    else if (type === 'ec' && curve === 'secp521r1') family = ['ES512']
    else if (type === 'ed25519') family = ['EdDSA']
    else throw new Error(`auth.publicKey: unsupported key type ${String(type)}`)
  } else {
    family = ASYMMETRIC
  }
  const algorithms = auth.algorithms ?? [family === ASYMMETRIC ? 'RS256' : family[0]]
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some(a => !family.includes(a))) {
    throw new Error(`auth.algorithms: must be a non-empty subset of ${family.join(', ')} for this key`)
  }
  for (const algorithm of family === HMAC ? algorithms : []) {
    const bytes = minimumSecretBytes(algorithm)
    if (Buffer.byteLength(auth.secret as string) < bytes) throw new Error(`auth.secret: ${algorithm} needs a secret of at least ${bytes} bytes (RFC 7518 §3.2)`)
  }
  return [...algorithms]
}

function checkAuthOptions (auth: AuthOptions): void {
  if (auth === null || typeof auth !== 'object') throw new Error('auth: required')
  const sources = [auth.jwksUrl, auth.publicKey, auth.secret].filter(s => s !== undefined)
  if (sources.length !== 1) throw new Error('auth: give exactly one of jwksUrl, publicKey or secret')
  if (auth.secret !== undefined && (typeof auth.secret !== 'string' || Buffer.byteLength(auth.secret) < 32)) {
    throw new Error('auth.secret: must be a string of at least 32 bytes')
  }
  if (auth.publicKey !== undefined && typeof auth.publicKey !== 'string') throw new Error('auth.publicKey: must be a PEM string')
  if (auth.jwksUrl !== undefined && httpsUrl(auth.jwksUrl, true) === null) throw new Error('auth.jwksUrl: must be an https URL')
  for (const name of ['issuer', 'audience'] as const) {
    if (typeof auth[name] !== 'string' || auth[name].length === 0) throw new Error(`auth.${name}: required string`)
  }
  if (auth.requiredScope !== undefined && (typeof auth.requiredScope !== 'string' || !SCOPE_TOKEN.test(auth.requiredScope))) {
    throw new Error('auth.requiredScope: must be one RFC 6749 scope token')
  }
  if (auth.allowedClientIds !== undefined && !isNonEmptyStrings(auth.allowedClientIds)) {
    throw new Error('auth.allowedClientIds: must be a non-empty array of client ids')
  }
  checkInteger(auth.maxTokenAgeSeconds, 'auth.maxTokenAgeSeconds', 1, 86_400)
  checkInteger(auth.maxTokenLifetimeSeconds, 'auth.maxTokenLifetimeSeconds', 1, auth.maxTokenAgeSeconds ?? 900)
  checkInteger(auth.clockToleranceSeconds, 'auth.clockToleranceSeconds', 0, 60)
  checkInteger(auth.tokenCacheSize, 'auth.tokenCacheSize', 0, 10_000)
  checkInteger(auth.jwksTimeoutMs, 'auth.jwksTimeoutMs', 1, 30_000)
  checkInteger(auth.jwksTtlMs, 'auth.jwksTtlMs', 1, 86_400_000)
  checkInteger(auth.jwksCooldownMs, 'auth.jwksCooldownMs', 0, 3_600_000)
}

/** The preset's conventions, each overridable in `auth`; validated once, at registration. */
function conventionsFor (auth: AuthOptions): AuthPreset {
  const name = auth.preset ?? 'rfc9068'
  if (!Object.hasOwn(authPresets, name)) throw new Error(`auth.preset: must be one of ${Object.keys(authPresets).join(', ')}`)
  const preset = authPresets[name]
  const pick = <K extends keyof AuthPreset>(key: K): AuthPreset[K] => auth[key] === undefined ? preset[key] : auth[key] as AuthPreset[K]
  const conventions: AuthPreset = {
    typ: pick('typ'),
    requiredClaims: pick('requiredClaims'),
    requiredClaimValues: pick('requiredClaimValues'),
    scopeClaims: pick('scopeClaims'),
    clientIdClaim: pick('clientIdClaim'),
    audienceClaim: pick('audienceClaim')
  }
  if (conventions.typ !== null && (typeof conventions.typ !== 'string' || conventions.typ.length === 0)) throw new Error('auth.typ: must be a string, or null for no check')
  if (!Array.isArray(conventions.requiredClaims) || !conventions.requiredClaims.every(isClaimName)) throw new Error('auth.requiredClaims: must be an array of claim names')
  const values = conventions.requiredClaimValues
  if (values === null || typeof values !== 'object' || !Object.entries(values).every(([k, v]) => isClaimName(k) && typeof v === 'string')) {
    throw new Error('auth.requiredClaimValues: must map claim names to strings')
  }
  if (!Array.isArray(conventions.scopeClaims) || conventions.scopeClaims.length === 0 || !conventions.scopeClaims.every(isClaimName)) {
    throw new Error('auth.scopeClaims: must be a non-empty array of claim names')
  }
  if (!isClaimName(conventions.clientIdClaim)) throw new Error('auth.clientIdClaim: must be a claim name')
  if (!isClaimName(conventions.audienceClaim)) throw new Error('auth.audienceClaim: must be a claim name')
  return conventions
}

function isClaimName (name: unknown): boolean {
  return typeof name === 'string' && CLAIM_NAME.test(name)
}
