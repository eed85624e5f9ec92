import { randomBytes } from 'node:crypto'

/** `length` random characters of `alphabet` (at most 256 characters long), for ids shaped like a PSP's. */
export function randomString (alphabet: string, length: number): string {
  return Array.from(randomBytes(length), byte => alphabet[byte % alphabet.length]).join('')
}
