import { randomBytes, timingSafeEqual } from 'node:crypto'
import { OAuthError } from '../../errors.ts'
import { sha256 } from '../../hash.ts'
import { SCOPE_TOKEN } from '../../checks.ts'

export const MIN_SECRET_LENGTH = 32
const BASIC = /^Basic ([A-Za-z0-9+/]+=*)$/i
/** Compared against when the client id is unknown, so a miss costs the same as a wrong secret. */
const NO_CLIENT = Buffer.alloc(32)

/** A configured client: its id, the SHA-256 of its secret, the scopes it may be granted. */
export interface Client { id: string, digest: Buffer, scopes: string[] }

/**
 * A new client secret: 32 random bytes, base64url (256 bits). Give it to the client once; keep
 * only `hashClientSecret(secret)`.
 */
export function generateClientSecret (): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The stored form of a client secret: `sha256:<base64url digest>`. A fast hash is enough because
 * the secret is high-entropy random data (generateClientSecret), not a password: nobody can
 * search 2^256 secrets, so a slow KDF (scrypt) would add no safety, only a CPU cost per token
 * request that an attacker could lean on. Secrets shorter than 32 characters are refused.
 */
export function hashClientSecret (secret: string): string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`hashClientSecret: a client secret must be at least ${MIN_SECRET_LENGTH} characters of random data (use generateClientSecret)`)
  }
  return `sha256:${sha256(secret).toString('base64url')}`
}

/** RFC 6749 §2.3.1: client_secret_basic or client_secret_post, never both. */
export function authenticateClient (clients: ReadonlyMap<string, Client>, header: string | undefined, form: URLSearchParams): Client {
  const basic = header === undefined ? null : parseBasic(header)
  const postId = form.get('client_id')
  const postSecret = form.get('client_secret')
  if (basic !== null && (postSecret !== null || (postId !== null && postId !== basic.id))) throw new OAuthError(400, 'invalid_request')
  const presented = basic ?? (postId !== null && postSecret !== null ? { id: postId, secret: postSecret } : null)
  if (presented === null) throw new OAuthError(401, 'invalid_client')
  const client = clients.get(presented.id)
  const same = timingSafeEqual(sha256(presented.secret), client?.digest ?? NO_CLIENT)
  if (client === undefined || !same) throw new OAuthError(401, 'invalid_client')
  return client
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function parseBasic (header: string): { id: string, secret: string } {
  const match = BASIC.exec(header)
  const decoded = match === null ? '' : Buffer.from(match[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  try {
    if (colon < 0) throw new Error('not user:password')
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) }
  } catch {
    throw new OAuthError(401, 'invalid_client')
  }
}

function formDecode (value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '))
}

/** No scope asked: all the client may have. Otherwise exactly what was asked, if the client may have it. */
export function grantedScopes (client: Client, requested: string | null): string[] {
  if (requested === null) return client.scopes
  const asked = [...new Set(requested.split(' '))]
  if (!asked.every(s => SCOPE_TOKEN.test(s) && client.scopes.includes(s))) throw new OAuthError(400, 'invalid_scope')
  return asked
}
