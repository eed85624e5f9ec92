import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import type { AuthOptions, TokenEndpointClient, TokenEndpointOptions, TokenRateLimitOptions } from '../../types/index.ts'
import { createAllowlist } from '../edge/ip-allowlist.ts'
import type { Client } from '../edge/token-endpoint/clients.ts'
import type { TokenEndpointSettings } from '../edge/token-endpoint/route.ts'
import type { TokenRateLimitSettings } from '../edge/token-endpoint/rate-limit.ts'
import { publishedKey, signingAlgorithmOf, type PublishedKey } from '../edge/token-endpoint/keys.ts'
import { checkInteger, isObject, SCOPE_TOKEN } from '../checks.ts'

const HASH = /^sha256:([A-Za-z0-9_-]{43})$/
const CLIENT_ID = /^[\x21-\x7E]{1,128}$/
/** One rotation in progress needs one; a few cover rotations in quick succession. */
const MAX_ROTATION_KEYS = 3

export function resolveTokenEndpoint (options: TokenEndpointOptions, auth: AuthOptions): TokenEndpointSettings {
  if (!isObject(options)) throw new Error('tokenEndpoint: must be an object')
  if (!isObject(auth)) throw new Error('auth: required')
  if (auth.jwksUrl !== undefined || auth.publicKey !== undefined || auth.secret !== undefined) {
    throw new Error('auth: with tokenEndpoint, give no jwksUrl, publicKey or secret: tokens are verified with tokenEndpoint.privateKey\'s public key')
  }
  if (auth.preset !== undefined && auth.preset !== 'rfc9068') throw new Error('auth.preset: tokenEndpoint issues RFC 9068 tokens; leave preset unset or rfc9068')
  const { key, algorithm } = signingKey(options.privateKey)
  const current = publishedKey(createPublicKey(key), algorithm)
  const keys = [current, ...rotationKeys(options.rotationPublicKeys, algorithm, current.kid)]
  const clients = readClients(options.clients, auth.requiredScope)
  const isAllowedIp = createAllowlist(options.allowedIps, 'tokenEndpoint.allowedIps')
  checkInteger(options.expiresInSeconds, 'tokenEndpoint.expiresInSeconds', 1, 300)
  return {
    privateKey: options.privateKey,
    algorithm,
    kid: current.kid,
    jwks: { keys: keys.map(k => k.jwk) },
    keyRing: new Map(keys.map(k => [k.kid, k.pem])),
    clients,
    isAllowedIp,
    expiresInSeconds: options.expiresInSeconds ?? 300,
    rateLimit: resolveRateLimit(options.rateLimit),
    auth: { ...auth, publicKey: current.pem, algorithms: [algorithm], preset: 'rfc9068' }
  }
}

function resolveRateLimit (options: TokenRateLimitOptions = {}): TokenRateLimitSettings {
  if (!isObject(options)) throw new Error('tokenEndpoint.rateLimit: must be an object')
  const { max = 20, windowSeconds = 60, ipv6PrefixLength = 64, cacheSize = 5000, redis } = options as TokenRateLimitOptions
  checkInteger(max, 'tokenEndpoint.rateLimit.max', 1, 10_000)
  checkInteger(windowSeconds, 'tokenEndpoint.rateLimit.windowSeconds', 1, 3600)
  checkInteger(ipv6PrefixLength, 'tokenEndpoint.rateLimit.ipv6PrefixLength', 16, 128)
  checkInteger(cacheSize, 'tokenEndpoint.rateLimit.cacheSize', 100, 1_000_000)
  if (redis !== undefined && typeof (redis as { defineCommand?: unknown } | null)?.defineCommand !== 'function') {
    throw new Error('tokenEndpoint.rateLimit.redis: must be an ioredis client (@fastify/rate-limit defines its script with defineCommand, which node-redis lacks)')
  }
  return { max, windowMs: windowSeconds * 1000, ipv6PrefixLength, cacheSize, redis }
}

/** The partner's signing key. */
function signingKey (pem: unknown): { key: KeyObject, algorithm: 'ES256' | 'EdDSA' } {
  let key: KeyObject
  try {
    key = createPrivateKey(pem as string)
  } catch {
    throw new Error('tokenEndpoint.privateKey: must be a PEM private key')
  }
  const algorithm = signingAlgorithmOf(key)
  if (algorithm === null) throw new Error('tokenEndpoint.privateKey: must be a P-256 (ES256) or Ed25519 (EdDSA) key')
  return { key, algorithm }
}

/**
 * The other keys of a rotation, accepted and published beside the signing key's: the next key
 * before instances start signing with it, the previous one until its tokens expire (5 minutes at
 * most). Public keys only: a private key given here would be one more copy of a secret, so it is refused.
 */
function rotationKeys (list: unknown, algorithm: string, currentKid: string): PublishedKey[] {
  if (list === undefined) return []
  if (!Array.isArray(list) || list.length > MAX_ROTATION_KEYS) throw new Error(`tokenEndpoint.rotationPublicKeys: must be an array of at most ${MAX_ROTATION_KEYS} PEM public keys`)
  const kids = new Set([currentKid])
  return list.map((pem, i) => {
    const where = `tokenEndpoint.rotationPublicKeys[${i}]`
    let key: KeyObject | null = null
    try { key = typeof pem === 'string' && !pem.includes('PRIVATE KEY') ? createPublicKey(pem) : null } catch {}
    if (key === null) throw new Error(`${where}: must be a PEM public key (never a private key)`)
    if (signingAlgorithmOf(key) !== algorithm) throw new Error(`${where}: must be an ${algorithm} key, like privateKey`)
    const published = publishedKey(key, algorithm)
    if (kids.has(published.kid)) throw new Error(`${where}: is the current key or a duplicate`)
    kids.add(published.kid)
    return published
  })
}

function readClients (list: TokenEndpointClient[], requiredScope: string | undefined): Map<string, Client> {
  if (!Array.isArray(list) || list.length === 0) throw new Error('tokenEndpoint.clients: give at least one client')
  const clients = new Map<string, Client>()
  list.forEach((client, i) => {
    const where = `tokenEndpoint.clients[${i}]`
    if (client === null || typeof client !== 'object' || typeof client.clientId !== 'string' || !CLIENT_ID.test(client.clientId)) {
      throw new Error(`${where}.clientId: 1-128 printable ASCII characters, no spaces`)
    }
    if (clients.has(client.clientId)) throw new Error(`${where}.clientId: duplicate`)
    const hash = HASH.exec(String(client.secretHash))
    if (hash === null) throw new Error(`${where}.secretHash: must be the output of hashClientSecret (never the secret itself)`)
    const scopes = client.scopes ?? (requiredScope === undefined ? [] : [requiredScope])
    if (!Array.isArray(scopes) || !scopes.every(s => typeof s === 'string' && SCOPE_TOKEN.test(s))) throw new Error(`${where}.scopes: must be an array of scope tokens`)
    if (requiredScope !== undefined && !scopes.includes(requiredScope)) throw new Error(`${where}.scopes: must include auth.requiredScope, or its tokens are useless`)
    clients.set(client.clientId, { id: client.clientId, digest: Buffer.from(hash[1], 'base64url'), scopes })
  })
  return clients
}
