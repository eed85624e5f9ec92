import { BlockList, isIPv4, isIPv6 } from 'node:net'

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address it carries. */
export function normalizeIp (ip: string): string {
  const mapped = MAPPED.exec(ip)
  return mapped !== null ? mapped[1] : ip
}

/**
 * Parses IPv4/IPv6 addresses and CIDRs into a net.BlockList (no string or prefix matching, so
 * 34.1.2.35 never passes a rule for 34.1.2.3). Throws on any entry that does not parse.
 */
export function buildAllowlist (entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address, prefixText, extra] = String(entry).trim().split('/')
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : null
    const max = family === 'ipv4' ? 32 : 128
    const prefix = prefixText === undefined ? max : Number(prefixText)
    if (family === null || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) {
      throw new Error(`allowedIps: "${String(entry).slice(0, 64)}" is not an IPv4/IPv6 address or CIDR`)
    }
    if (family === 'ipv6' && MAPPED.test(address)) {
      throw new Error(`allowedIps: write "${String(entry).slice(0, 64)}" as plain IPv4`)
    }
    list.addSubnet(address, prefix, family)
  }
  return list
}

/** Deny anything that is not an IP literal (proxy-addr passes through "unknown", "1.2.3.4:5678", …). */
export function isAllowed (list: BlockList, rawIp: string | undefined): boolean {
  if (typeof rawIp !== 'string') return false
  const ip = normalizeIp(rawIp)
  if (isIPv4(ip)) return list.check(ip, 'ipv4')
  if (isIPv6(ip)) return list.check(ip, 'ipv6')
  return false
}
