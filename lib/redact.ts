/**
 * What must never leave the plugin in the clear, found in free text: card numbers, JWTs, bearer
 * credentials, PSP secret keys and email addresses (README, Security: "What is masked").
 */

/** Digit groups separated by single spaces or dashes: "4242424242424242", "4242 4242 4242 4242", "3782-822463-10005". */
const DIGIT_CHAIN = /\d+(?:[ -]\d+)*/g
/** Thirteen digits in one such chain, the fewest a card number has. */
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g
const BEARER = /\bBearer\s+[^\s",]+/gi
const PSP_KEY = /\b(?:sk|rk)_(?:live|test|sbox)_\w+/g
const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g
// eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

/** ISO/IEC 7812 check digit (the Luhn formula) over a string of digits. */
export function luhn (digits: string): boolean {
  let sum = 0
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2
    sum += d
  }
  return sum % 10 === 0
}

/**
 * Masks every card number in `text`: a run of 13 to 19 digits, whole digit groups joined by
 * single spaces or dashes, that passes the Luhn check. Groups that such runs cover, overlapping
 * or side by side, are masked together: all their digits but the last four become `*`;
 * separators stay. So a card number is masked whole even when a shorter run inside it passes the
 * check by chance. Digits glued to letters count (`card4242…`); a run of more than 19 digits
 * without a separator is no card number and stays.
 */
export function maskPans (text: string): string {
  // Only a chain of 13 digits or more can hold a card number: dates, sizes and ids skip the replace.
  if (!THIRTEEN_DIGITS.test(text)) return text
  return text.replace(DIGIT_CHAIN, maskChain)
}

function maskChain (chain: string): string {
  if (chain.length < 13) return chain
  const groups = chain.split(/([ -])/)
  // groups: digits at even indexes, separators at odd ones. covered[i]: group i lies in a Luhn-valid run.
  const covered: boolean[] = []
  let found = false
  for (let start = 0; start < groups.length; start += 2) {
    let digits = ''
    for (let end = start; end < groups.length && digits.length < 19; end += 2) {
      digits += groups[end]
      if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) {
        for (let i = start; i <= end; i += 2) covered[i] = true
        found = true
      }
    }
  }
  if (!found) return chain
  for (let end = groups.length - 1; end >= 0; end -= 2) {
    if (covered[end] !== true) continue
    let start = end
    while (start >= 2 && covered[start - 2] === true) start -= 2
    maskGroups(groups, start, end)
    end = start
  }
  return groups.join('')
}

/** Replaces the digits of groups[start..end] with `*`, keeping the last four. */
function maskGroups (groups: string[], start: number, end: number): void {
  let keep = 4
  for (let i = end; i >= start; i -= 2) {
    const group = groups[i]
    const kept = Math.min(keep, group.length)
    groups[i] = '*'.repeat(group.length - kept) + group.slice(group.length - kept)
    keep -= kept
  }
}

/** Card numbers masked; JWTs, bearer credentials, PSP secret keys and email addresses replaced by a marker. */
export function redactText (text: string): string {
  return maskPans(text)
    .replace(JWT, '[jwt]')
    .replace(BEARER, 'Bearer [redacted]')
    .replace(PSP_KEY, '[key]')
    .replace(EMAIL, '[email]')
}

/** A URL for a log line: the query string dropped, each path segment redacted (percent-decoded first). */
export function redactUrl (url: string): string {
  const query = url.indexOf('?')
  const path = query < 0 ? url : url.slice(0, query)
  const segments = path.split('/').map(segment => {
    let decoded = segment
    try { decoded = decodeURIComponent(segment) } catch {}
    const redacted = redactText(decoded)
    return redacted === decoded ? segment : redacted
  })
  return segments.join('/') + (query < 0 ? '' : '?[redacted]')
}

/**
 * Caller-influenced text (a forwarded address, a token's client id) bounded and with control
 * characters escaped, so it cannot forge lines in a plain-text audit sink. JSON logs escape again.
 */
export function auditText (value: unknown, max: number): string {
  return String(value).slice(0, max).replace(CONTROL, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
