import { createPrivateKey, sign as cryptoSign, createHmac, type KeyObject } from 'node:crypto'
import http from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Test } from 'tap'
import type { Harness } from './harness.ts'

/** The fixed messages of the README's error table: a denial never carries anything else (docs/THREAT-MODEL.md B27). */
const MESSAGES: Record<string, string | RegExp> = {
  FST_ERR_VALIDATION: /^body[\w/]* is invalid$/,
  CARD_FORWARDING_UNAUTHORIZED: 'Invalid or missing bearer token',
  CARD_FORWARDING_IP_NOT_ALLOWED: 'Client address not allowed',
  CARD_FORWARDING_INSUFFICIENT_SCOPE: 'Token lacks the required scope',
  CARD_FORWARDING_AUTH_UNAVAILABLE: 'Token keys are unavailable, retry later',
  CARD_FORWARDING_UNSUPPORTED_MEDIA_TYPE: 'Content-Type must be application/json',
  CARD_FORWARDING_PAYMENT_METHOD_NOT_FOUND: 'No payment method matches this reference and these identifiers',
  CARD_FORWARDING_UNKNOWN_DESTINATION: 'Unknown destination'
}

export interface Reply { statusCode: number, headers: Record<string, unknown>, json: any }

/**
 * Sends one request and asserts it was refused with exactly the README's generic error body (no
 * library message, no token fragment, no claim value) and that nothing reached the PSP or the
 * destination meanwhile.
 */
export async function expectDenied (t: Test, h: Harness, send: () => Promise<Reply>, statusCode: number, code: string, name = `${statusCode} ${code}`): Promise<Reply> {
  const psp = h.simulator.requests.length
  const destination = h.destination.received.length
  const res = await send()
  t.equal(res.statusCode, statusCode, name)
  const message = MESSAGES[code] ?? STATUS_CODES[statusCode] as string
  t.same(Object.keys(res.json ?? {}).sort(), ['code', 'error', 'message', 'statusCode'], `${name}: the error shape`)
  t.match(res.json, { statusCode, code, error: STATUS_CODES[statusCode] }, `${name}: status and code`)
  if (typeof message === 'string') t.equal(res.json?.message, message, `${name}: generic message`)
  else t.match(res.json?.message, message, `${name}: names the path, never the value`)
  t.equal(h.simulator.requests.length, psp, `${name}: nothing reached the PSP`)
  t.equal(h.destination.received.length, destination, `${name}: nothing reached the destination`)
  return res
}

export function base64url (value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

/**
 * A JWS built by hand, for shapes no well-behaved signer produces: any header or payload text,
 * signed with an RSA/EC/Ed25519 private key (alg RS*, PS*, ES*, EdDSA) or an HMAC key (HS*).
 */
export function signRaw (header: object | string, payload: object | string, key: string | Buffer | KeyObject, alg: string): string {
  const text = (part: object | string) => typeof part === 'string' ? part : JSON.stringify(part)
  const input = `${base64url(text(header))}.${base64url(text(payload))}`
  let signature: Buffer
  if (alg.startsWith('HS')) {
    signature = createHmac(`sha${alg.slice(2)}`, key as string | Buffer).update(input).digest()
  } else {
    const privateKey = createPrivateKey(key as string)
    const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`
    const options = alg.startsWith('PS')
      ? { key: privateKey, padding: 6, saltLength: Number(alg.slice(2)) / 8 }
      : alg.startsWith('ES') ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const } : privateKey
    signature = cryptoSign(hash, Buffer.from(input), options)
  }
  return `${input}.${base64url(signature)}`
}

/** The claims a valid RFC 9068 token of the harness carries, with `iat` now. */
export function claims (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000)
  return { iss: 'https://idp.rokt.example/', aud: 'rokt-payment-sharing', sub: 'rokt', client_id: 'rokt', scope: 'payment-sharing', jti: 'jti-1', iat, exp: iat + 300, ...overrides }
}

export interface Loopback { url: string, close: () => Promise<void> }

export function listenHttp (server: http.Server): Promise<Loopback> {
  return new Promise(resolve => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({ url: `http://127.0.0.1:${port}`, close: () => new Promise(resolve => server.close(() => resolve())) })
    })
  })
}

/**
 * A reverse proxy like an nginx `proxy_add_x_forwarded_for`: it appends the address of the peer
 * it received the request from to X-Forwarded-For, keeping whatever the client sent before it.
 */
export async function startForwardingProxy (t: Test, target: string): Promise<Loopback> {
  const server = http.createServer((req, res) => {
    const sent = req.headers['x-forwarded-for']
    const forwardedFor = [sent, req.socket.remoteAddress].filter(v => v !== undefined).join(', ')
    const upstream = http.request(`${target}${req.url}`, { method: req.method, headers: { ...req.headers, 'x-forwarded-for': forwardedFor } }, up => {
      res.writeHead(up.statusCode as number, up.headers)
      up.pipe(res)
    })
    req.pipe(upstream)
  })
  const proxy = await listenHttp(server)
  t.teardown(proxy.close)
  return proxy
}

/** An HTTP request over loopback from a chosen local address (127.0.0.2, 127.0.0.3, … are all this host on Linux). */
export function send (url: string, options: { method?: string, localAddress?: string, headers?: Record<string, string>, body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'POST', localAddress: options.localAddress, headers: options.headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', chunk => chunks.push(chunk))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: any
        try { json = JSON.parse(text) } catch { json = text }
        resolve({ statusCode: res.statusCode as number, headers: res.headers, json })
      })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}
