import { timingSafeEqual } from 'node:crypto'
import type { CustomerIdentifiers } from '../../types/index.ts'
import { sha256 } from '../hash.ts'

function same (sent: string, known: unknown): boolean {
  // Digests are equal-length, so the comparison time does not depend on where values differ.
  return typeof known === 'string' && timingSafeEqual(sha256(sent), sha256(known))
}

/**
 * Every identifier Rokt sent must match what the vault knows: no "email OR customerId" fallback.
 * Email compares case-insensitively, customerId exactly. When the vault knows the customer, Rokt
 * must name them: a bare reference is not enough (references can be guessable order numbers).
 */
export function identifiersMatch (sent: CustomerIdentifiers | undefined, known: CustomerIdentifiers | undefined): boolean {
  if (sent === undefined) return known?.email === undefined && known?.customerId === undefined
  let ok = true
  if (sent.email !== undefined) ok = same(sent.email.toLowerCase(), known?.email?.toLowerCase()) && ok
  if (sent.customerId !== undefined) ok = same(sent.customerId, known?.customerId) && ok
  return ok
}
