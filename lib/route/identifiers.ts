import { timingSafeEqual } from 'node:crypto'
import type { CustomerIdentifiers } from '../../types/index.ts'
import { sha256 } from '../hash.ts'

function same (sent: string, known: unknown): boolean {
  // Digests are equal-length, so the comparison time does not depend on where values differ.
  return typeof known === 'string' && timingSafeEqual(sha256(sent), sha256(known))
}

const PRINTABLE_ASCII = /^[\x21-\x7E]*$/
/** Fullwidth and halfwidth forms, which RFC 8265 maps to their decompositions first. */
const WIDTH = /[\uFF01-\uFFEF]/g
/** RFC 8264's IdentifierClass, by general category: letters, digits, marks and printable ASCII. */
const IDENTIFIER_CLASS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}\x21-\x7E]*$/u

/**
 * An email address as RFC 8265's UsernameCaseMapped profile prepares and enforces a username:
 * width-mapped, then allowed only if every code point is in the IdentifierClass (approximated by
 * general category) and none has a compatibility decomposition (HasCompat: U+212A KELVIN SIGN,
 * U+FB01 …), then lower-cased and NFC-normalised. null: the address is refused, so it matches nothing.
 */
export function preparedEmail (email: string): string | null {
  // Printable ASCII has no width forms, no compatibility decompositions and is its own NFC.
  if (PRINTABLE_ASCII.test(email)) return email.toLowerCase()
  const mapped = email.replace(WIDTH, c => c.normalize('NFKC'))
  if (!IDENTIFIER_CLASS.test(mapped)) return null
  for (const c of mapped) if (c.normalize('NFKC') !== c) return null
  return mapped.toLowerCase().normalize('NFC')
}

/**
 * Every identifier Rokt sent must match what the vault knows: no "email OR customerId" fallback.
 * Email compares in its prepared form (preparedEmail), customerId exactly. When the vault knows
 * the customer, Rokt must name them: a bare reference is not enough (references can be guessable order numbers).
 */
export function identifiersMatch (sent: CustomerIdentifiers | undefined, known: CustomerIdentifiers | undefined): boolean {
  if (sent === undefined) return known?.email === undefined && known?.customerId === undefined
  let ok = true
  if (sent.email !== undefined) {
    const email = preparedEmail(sent.email)
    ok = same(email ?? '', typeof known?.email === 'string' ? preparedEmail(known.email) : null) && email !== null && ok
  }
  if (sent.customerId !== undefined) ok = same(sent.customerId, known?.customerId) && ok
  return ok
}
