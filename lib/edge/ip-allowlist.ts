import { BlockList, isIPv4, isIPv6 } from 'node:net'

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i
/** proxy-addr's named ranges, as Fastify's trustProxy accepts them. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']
}

interface Cidr { address: string, prefix: number, family: 'ipv4' | 'ipv6' }

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address it carries. */
export function normalizeIp (ip: string): string {
  const mapped = MAPPED.exec(ip)
  return mapped !== null ? mapped[1] : ip
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
    if (MAPPED.test(cidr.address)) throw new Error(`${option}: write ${describe(entry)} as plain IPv4`)
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
    const mapped = MAPPED.exec(cidr.address)
    return mapped === null ? cidr : { address: mapped[1], prefix: Math.max(0, cidr.prefix - 96), family: 'ipv4' as const }
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
