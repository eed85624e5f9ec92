import { BlockList, isIPv4, isIPv6 } from 'node:net'

const DOTTED_TAIL = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
/** proxy-addr's named ranges, as Fastify's trustProxy accepts them. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']
}

interface Cidr { address: string, prefix: number, family: 'ipv4' | 'ipv6' }

/** The eight 16-bit groups of an IPv6 literal, in any of its spellings (`::`, leading zeros, a dotted tail, a zone). */
function ipv6Groups (address: string): number[] {
  let text = address.split('%')[0]
  const dotted = DOTTED_TAIL.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number)
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.split('::')
  const groups = (part: string | undefined) => part === undefined || part === '' ? [] : part.split(':')
  const left = groups(head)
  const right = groups(tail)
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...middle, ...right].map(group => parseInt(group, 16))
}

/** The IPv4 address an IPv4-mapped IPv6 literal (::ffff:0:0/96, however spelt) carries, else null. */
function mappedIpv4 (address: string): string | null {
  if (!isIPv6(address)) return null
  const g = ipv6Groups(address)
  if (g.slice(0, 5).some(group => group !== 0) || g[5] !== 0xffff) return null
  return `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d, ::ffff:cb00:7107, 0:0:0:0:0:ffff:…) is the IPv4 address it carries. */
export function normalizeIp (ip: string): string {
  return mappedIpv4(ip) ?? ip
}

/** An IPv6 CIDR inside ::ffff:0:0/96 as the IPv4 CIDR it is; null for any other CIDR. */
function mappedCidr (cidr: Cidr): Cidr | null {
  const ipv4 = cidr.family === 'ipv6' && cidr.prefix >= 96 ? mappedIpv4(cidr.address) : null
  return ipv4 === null ? null : { address: ipv4, prefix: cidr.prefix - 96, family: 'ipv4' }
}

/** An address or CIDR, or null: never string or prefix matching, so 34.1.2.35 never passes a rule for 34.1.2.3. */
function parseCidr (entry: unknown): Cidr | null {
  const [address, prefixText, extra] = String(entry).trim().split('/')
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null
  const max = family === 'ipv4' ? 32 : 128
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (family === null || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return null
  return { address, prefix, family }
}

function describe (entry: unknown): string {
  return JSON.stringify(String(entry).slice(0, 64))
}

/** How many per-address decisions an allowlist remembers; when full it starts over (no growth under a flood of addresses). */
export const DECISIONS_REMEMBERED = 1024
/** Longer than any address an allowlist can hold: such a request.ip (a forwarded header's junk) is refused unremembered. */
const MAX_ADDRESS_LENGTH = 64

/**
 * The check for an allowlist option. Parses IPv4/IPv6 addresses and CIDRs into a net.BlockList once
 * (throws, naming the option, on any entry that does not parse) and remembers its recent decisions
 * per address: Rokt calls from a handful of addresses, and BlockList.check builds a SocketAddress on
 * every call.
 */
export function createAllowlist (entries: readonly string[], option = 'allowedIps'): (ip: string | undefined) => boolean {
  const list = parseAllowlist(entries, option)
  const decisions = new Map<string, boolean>()
  return ip => {
    const address = String(ip)
    if (address.length > MAX_ADDRESS_LENGTH) return false
    let allowed = decisions.get(address)
    if (allowed === undefined) {
      allowed = isAllowed(list, address)
      if (decisions.size >= DECISIONS_REMEMBERED) decisions.clear()
      decisions.set(address, allowed)
    }
    return allowed
  }
}

function parseAllowlist (entries: readonly string[], option: string): BlockList {
  if (!Array.isArray(entries) || entries.length === 0) throw new Error(`${option}: give at least one address or CIDR`)
  const list = new BlockList()
  for (const entry of entries) {
    const cidr = parseCidr(entry)
    if (cidr === null) throw new Error(`${option}: ${describe(entry)} is not an IPv4/IPv6 address or CIDR`)
    if (mappedCidr(cidr) !== null) throw new Error(`${option}: write ${describe(entry)} as plain IPv4`)
    list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  }
  return list
}

/**
 * Deny anything that is not an IP literal (proxy-addr passes through "unknown", "1.2.3.4:5678", …;
 * request.ip is undefined once the socket is gone, and "undefined" is no IP literal either).
 */
function isAllowed (list: BlockList, address: string): boolean {
  const ip = normalizeIp(address)
  if (isIPv4(ip)) return list.check(ip, 'ipv4')
  if (isIPv6(ip)) return list.check(ip, 'ipv6')
  return false
}

/**
 * The allowlists trust only what the host's trustProxy resolves, so the setting must be safe:
 * `true` trusts the left-most, client-written X-Forwarded-For entry and a hop count is ignored
 * by Fastify >= 5.12.1 (every request then comes from the proxy). A CIDR list is safe unless an
 * allowlist overlaps it: a request the proxy sends without X-Forwarded-For would then pass as the
 * proxy itself. A trust function cannot be inspected; it must check the address, not the hop.
 */
export function checkTrustProxy (trustProxy: unknown, allowlists: Record<string, readonly string[]>, allowUnsafe: boolean): void {
  if (trustProxy === true || typeof trustProxy === 'number') {
    if (allowUnsafe) return
    throw new Error('trustProxy: true or a hop count makes request.ip spoofable or ignored; give the proxies\' CIDRs (or set allowUnsafeTrustProxy)')
  }
  if (typeof trustProxy !== 'string' && !Array.isArray(trustProxy)) return
  const entries = typeof trustProxy === 'string' ? trustProxy.split(',') : trustProxy
  const proxies = entries.flatMap(entry => NAMED_RANGES[String(entry).trim()] ?? [entry]).map(entry => {
    const cidr = parseCidr(entry)
    if (cidr === null) throw new Error(`trustProxy: ${describe(entry)} is not an address or CIDR this plugin can check; give CIDRs`)
    // proxy-addr matches an IPv4 peer against IPv6 ranges as ::ffff:a.b.c.d: such a range is checked as the IPv4 range it is.
    const proxy = mappedCidr(cidr) ?? cidr
    if (proxy.family === 'ipv6' && contains(proxy, '::ffff:0:0')) {
      throw new Error(`trustProxy: ${describe(entry)} covers IPv4-mapped addresses (::ffff:0:0/96), so it trusts IPv4 peers; write IPv4 proxies as IPv4`)
    }
    if (proxy.prefix === 0) throw new Error(`trustProxy: ${describe(entry)} trusts every address, as unsafe as trustProxy: true`)
    return proxy
  })
  for (const [option, allowed] of Object.entries(allowlists)) {
    for (const entry of allowed) {
      const cidr = parseCidr(entry) as Cidr
      const proxy = proxies.find(p => overlaps(p, cidr))
      if (proxy !== undefined) {
        throw new Error(`${option}: ${describe(entry)} overlaps the trusted proxy ${describe(`${proxy.address}/${proxy.prefix}`)}: a request from the proxy itself would pass`)
      }
    }
  }
}

/** CIDR blocks are nested or disjoint: they overlap when either holds the other's address. */
function overlaps (a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (contains(a, b.address) || contains(b, a.address))
}

function contains (cidr: Cidr, address: string): boolean {
  const list = new BlockList()
  list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  return list.check(address, cidr.family)
}
