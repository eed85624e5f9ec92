/**
 * What must never leave the plugin in the clear, found in free text: card numbers, JWTs, bearer
 * credentials, PSP secret keys and email addresses (README, Security: "What is masked").
 */

/** Digit groups separated by single spaces or dashes: "4242424242424242", "4242 4242 4242 4242", "3782-822463-10005". */
const DIGIT_CHAIN = /\d+(?:[ -]\d+)*/g
/** Thirteen digits in one such chain, the fewest a card number has. */
const THIRTEEN_DIGITS = /\d(?:[ -]?\d){12}/
/**
 * A JWT from its first `eyJ`, the text before it in its run kept. Every pattern here takes time
 * linear in the text (log lines carry caller-controlled URLs, up to 16 KiB): matching starts only
 * where a run of base64url characters starts and only when two dots follow, so the regex never
 * rescans a run once for each `eyJ` in it (15 KB of `eyJ` took 100 ms with `eyJ[\w-]*\.…`).
 */
const JWT = /(?<![\w-])(?=[\w-]*\.[\w-]*\.)([\w-]*?)eyJ[\w-]*\.[\w-]*\.[\w-]*/g
const BEARER = /\bBearer\s+[^\s",]+/gi
const PSP_KEY = /\b(?:sk|rk)_(?:live|test|sbox)_\w+/g
/**
 * An email's `@` and domain; its local part (`[\w.+-]+`) is walked back from the `@` in code
 * (redactEmails). A pattern that starts with the local part rescans a run of word characters from
 * each of them: 16 KB took 350 ms.
 */
const EMAIL_AT = /@[\w-]+(?:\.[\w-]+)+/g
// eslint-disable-next-line no-control-regex -- control characters are exactly what is matched
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
/** The same, without /g: a test that keeps no lastIndex. */
const HAS_CONTROL = new RegExp(CONTROL.source)

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
  // groups: digits at even indexes, separators at odd ones. covered[i] = 1: group i lies in a Luhn-valid run.
  const covered = new Uint8Array(groups.length)
  // The last index marked so far: runs are found in order of their start, so each index is marked once.
  let reach = -1
  for (let start = 0; start < groups.length; start += 2) {
    // The Luhn sum kept as digits are added, by the parity of each digit's place from the left,
    // plain and doubled: which of them is doubled depends on the run's length (ISO/IEC 7812-1).
    let even = 0
    let odd = 0
    let evenDoubled = 0
    let oddDoubled = 0
    let length = 0
    for (let end = start; end < groups.length && length < 19; end += 2) {
      const group = groups[end]
      for (let k = 0; k < group.length; k++) {
        if (length === 19) { length = 20; break }
        const d = group.charCodeAt(k) - 48
        const doubled = d > 4 ? d * 2 - 9 : d * 2
        if (length % 2 === 0) { even += d; evenDoubled += doubled } else { odd += d; oddDoubled += doubled }
        length++
      }
      if (end > reach && length >= 13 && length <= 19 && (length % 2 === 1 ? even + oddDoubled : evenDoubled + odd) % 10 === 0) {
        covered.fill(1, Math.max(start, reach + 1), end + 1)
        reach = end
      }
    }
  }
  if (reach < 0) return chain
  for (let end = groups.length - 1; end >= 0; end -= 2) {
    if (covered[end] === 0) continue
    let start = end
    while (start >= 2 && covered[start - 2] === 1) start -= 2
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
  // JWTs first: masking a card-number-like run inside one would break it before it is found.
  return redactEmails(maskPans(text.replace(JWT, '$1[jwt]'))
    .replace(BEARER, 'Bearer [redacted]')
    .replace(PSP_KEY, '[key]'))
}

/**
 * Every `local@domain.tld` replaced by `[email]`, as /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g would, in
 * linear time: the `@` and domain are matched, then the local part walked back from the `@` (never
 * past the previous address), so each character is looked at a bounded number of times.
 */
function redactEmails (text: string): string {
  // No `@`, no address: most log text skips the scan.
  if (!text.includes('@')) return text
  let out = ''
  let done = 0
  EMAIL_AT.lastIndex = 0
  for (let at = EMAIL_AT.exec(text); at !== null; at = EMAIL_AT.exec(text)) {
    let start = at.index
    while (start > done && isLocalPart(text.charCodeAt(start - 1))) start--
    if (start === at.index) {
      // No local part: the domain may hold the next address's.
      EMAIL_AT.lastIndex = at.index + 1
      continue
    }
    out += text.slice(done, start) + '[email]'
    done = EMAIL_AT.lastIndex
  }
  return out + text.slice(done)
}

/** [\w.+-]: ASCII letters, digits, `_`, `.`, `+`, `-`. */
function isLocalPart (c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 43 || c === 45
}

/**
 * The last URL that is its own redaction (nothing in it to hide, so nothing secret is kept here):
 * a route's request log lines mostly repeat one such URL.
 */
let lastClean = '/'

/** A URL for a log line: the query string dropped, each path segment redacted (percent-decoded first). */
export function redactUrl (url: string): string {
  if (url === lastClean) return url
  const redacted = redactedUrl(url)
  if (redacted === url) lastClean = url
  return redacted
}

function redactedUrl (url: string): string {
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
  const text = String(value).slice(0, max)
  // Tested first: a replace with a function always runs in V8's runtime, even when nothing matches.
  return HAS_CONTROL.test(text) ? text.replace(CONTROL, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text
}
