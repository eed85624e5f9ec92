import { fileURLToPath } from 'node:url'

/**
 * What must never appear in a log line (docs/THREAT-MODEL.md D37): a PAN, a CVC, a bearer token,
 * an API key or an email address. Used by the per-file log tests and by the suite-wide scan.
 */
export interface Finding { rule: string, line: string }

/** Where every harness app of every test process appends its log lines (emptied before each run). */
export const LOG_CAPTURE_DIR = fileURLToPath(new URL('../../.tap/log-capture/', import.meta.url))

/**
 * The sandbox PSPs' credentials (lib/sandbox), looked for in every line whatever other literals a
 * test adds. Written out rather than imported: tap's before/after scripts load this file, and they
 * must not load the library.
 */
const SANDBOX_SECRETS = ['sk_test_sandbox', 'sandbox_adyen_api_key', 'sandbox_private_key', 'sk_sbox_m73dzbpy7cf3gfd46xr4yj5xo4e']

// A digit run of 13-19 (spaces or dashes allowed between digits) that is not part of a word or a decimal.
const DIGIT_RUN = /(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])/g
const RULES: Array<[string, RegExp]> = [
  ['CVC key', /"[\w.-]*cv[cv]2?[\w.-]*"\s*:/i],
  ['bearer credential', /\bBearer\s+[\w~+/.-]/i],
  ['JWT', /eyJ[\w-]{8,}\.[\w-]{8,}/],
  ['API key', /\b(?:sk|rk|pk)_(?:test|live|sbox)_\w+|rokt_dest_key_\w+/],
  ['email address', /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/]
]

/** The Luhn check every card number passes. */
export function luhn (digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i])
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
  }
  return sum % 10 === 0
}

export function findSecrets (lines: readonly string[], literals: readonly string[] = []): Finding[] {
  const findings: Finding[] = []
  for (const line of lines) {
    for (const run of line.match(DIGIT_RUN) ?? []) {
      const digits = run.replace(/\D/g, '')
      if (digits.length >= 13 && luhn(digits)) findings.push({ rule: 'PAN', line })
    }
    for (const [rule, pattern] of RULES) if (pattern.test(line)) findings.push({ rule, line })
    for (const literal of [...SANDBOX_SECRETS, ...literals]) if (line.includes(literal)) findings.push({ rule: 'known secret', line })
  }
  return findings
}
