import { createHash, type KeyObject } from 'node:crypto'

/** A public JWK as the JWKS publishes it (node:crypto's JsonWebKey type is not in every @types/node). */
export interface PublicJwk {
  kty: string
  crv?: string
  x?: string
  y?: string
  kid: string
  alg: string
  use: 'sig'
}

export interface PublishedKey { kid: string, pem: string, jwk: PublicJwk }

/** P-256 (ES256) or Ed25519 (EdDSA), the compact modern choices; null for any other key. */
export function signingAlgorithmOf (key: KeyObject): 'ES256' | 'EdDSA' | null {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256'
  return null
}

/** A public key as the route verifies it (PEM) and as the JWKS publishes it, under its RFC 7638 thumbprint. */
export function publishedKey (publicKey: KeyObject, algorithm: string): PublishedKey {
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string, crv?: string, x?: string, y?: string }
  const kid = thumbprint(jwk)
  return { kid, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), jwk: { ...jwk, kid, alg: algorithm, use: 'sig' } }
}

/** RFC 7638 JWK thumbprint: the key id is derived from the key, never chosen. */
function thumbprint (jwk: { kty: string, crv?: string, x?: string, y?: string }): string {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}
