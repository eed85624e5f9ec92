import { hash } from 'node:crypto'

/** SHA-256 of a UTF-8 string, for constant-time comparisons of equal-length digests. */
export function sha256 (value: string): Buffer {
  return hash('sha256', value, 'buffer')
}

/** One digest of several strings, each length-prefixed so that no two lists of parts collide. */
export function digestOf (parts: readonly string[], encoding: 'hex' | 'base64url'): string {
  // One-shot: the digest of the parts joined is the digest of updating with each in turn.
  let text = ''
  for (const part of parts) text += `${part.length}:${part}`
  return hash('sha256', text, encoding)
}
