import { createHash } from 'node:crypto'

/** SHA-256 of a UTF-8 string, for constant-time comparisons of equal-length digests. */
export function sha256 (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** One digest of several strings, each length-prefixed so that no two lists of parts collide. */
export function digestOf (parts: readonly string[], encoding: 'hex' | 'base64url'): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(`${part.length}:${part}`)
  return hash.digest(encoding)
}
