import type { KeyObject } from 'node:crypto'

/** RFC 7518 §3.3: RSA keys of 2048 bits or more. */
export const MIN_RSA_BITS = 2048
/** RFC 7518 §3.4: ES256, ES384 and ES512 are defined on these curves only (Node's names). */
const NIST_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])

/**
 * Why a public key is too weak to verify tokens with, or null. The same rule for `auth.publicKey`
 * (refused at registration) and for a JWKS key (skipped, the rest of the set kept).
 */
export function keyWeakness (key: KeyObject): string | null {
  // Node gives both for every RSA and EC key.
  const details = key.asymmetricKeyDetails as { modulusLength: number, namedCurve: string }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength
    return bits < MIN_RSA_BITS ? `RSA keys must have at least ${MIN_RSA_BITS} bits (RFC 7518 §3.3); this one has ${bits}` : null
  }
  if (key.asymmetricKeyType === 'ec' && !NIST_CURVES.has(details.namedCurve)) return 'EC keys must be on P-256, P-384 or P-521 (RFC 7518 §3.4)'
  return null
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash output (32, 48, 64 bytes). */
export function minimumSecretBytes (algorithm: string): number {
  return Number(algorithm.slice(2)) / 8
}
