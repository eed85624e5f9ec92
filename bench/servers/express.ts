import { createPublicKey } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import express, { type NextFunction, type Request, type Response } from 'express'
import jwt from 'jsonwebtoken'
import { serveCommands, serverProbe } from '../child.ts'
import { AUDIENCE, DESTINATION, FORWARD_PATH, ISSUER, readConfig, ROUTE, SCOPE, VAULT } from '../shared.ts'

/**
 * Workload 3, what a partner would otherwise hand-roll: Express 5, jsonwebtoken and global fetch,
 * making the plugin's checks (IP, RS256 token with iss/aud/age/scope, body, vault, identifiers)
 * and the same Stripe call, and answering the same { status, headers, body, request-time }.
 * Written the way a careful partner would: the key parsed once, the fixed form fields built once.
 */
const config = readConfig()
const publicKey = createPublicKey(config.publicKey)
const target = config.simUrl + FORWARD_PATH
const stripeHeaders = { authorization: `Bearer ${config.stripeApiKey}`, 'content-type': 'application/x-www-form-urlencoded' }
const fixedFields = [...new URLSearchParams(config.stripeForm)].filter(([name]) => name !== 'payment_method')
const PRINTABLE = /^[\x21-\x7E]+$/

const rules = config.allowedIps.map(cidr => {
  const [address, bits = '32'] = cidr.split('/')
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0
  return { base: ((ipv4(address) ?? 0) & mask) >>> 0, mask }
})

function ipv4 (address: string): number | null {
  const parts = address.replace(/^::ffff:/i, '').split('.')
  if (parts.length !== 4 || parts.some(p => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

function fail (res: Response, status: number, code: string) {
  res.status(status).json({ statusCode: status, code, error: code, message: code })
}

function checkIp (req: Request, res: Response, next: NextFunction) {
  const ip = ipv4(req.socket.remoteAddress ?? '')
  if (ip === null || !rules.some(r => ((ip & r.mask) >>> 0) === r.base)) return fail(res, 403, 'IP_NOT_ALLOWED')
  next()
}

function checkToken (req: Request, res: Response, next: NextFunction) {
  const header = req.get('authorization') ?? ''
  if (!header.startsWith('Bearer ')) return fail(res, 401, 'UNAUTHORIZED')
  let claims
  try {
    claims = jwt.verify(header.slice(7), publicKey, { algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, maxAge: '15m', clockTolerance: 30 })
  } catch {
    return fail(res, 401, 'UNAUTHORIZED')
  }
  if (typeof claims !== 'object' || typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(SCOPE)) return fail(res, 403, 'INSUFFICIENT_SCOPE')
  next()
}

interface RoktBody { partnerPaymentReference: string, destination: string, customerIdentifiers?: { email?: string, customerId?: string } }

function validBody (body: any): body is RoktBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false
  const { partnerPaymentReference: ref, destination, customerIdentifiers: ids } = body
  if (typeof ref !== 'string' || ref.length > 128 || !PRINTABLE.test(ref)) return false
  if (typeof destination !== 'string' || destination.length > 64) return false
  if (ids === undefined) return true
  if (ids === null || typeof ids !== 'object' || Array.isArray(ids)) return false
  if (ids.email !== undefined && (typeof ids.email !== 'string' || ids.email.length > 254 || !/^[^\s@]{1,64}@[^\s@]+$/.test(ids.email))) return false
  return ids.customerId === undefined || (typeof ids.customerId === 'string' && PRINTABLE.test(ids.customerId))
}

async function forward (req: Request, res: Response) {
  if (!req.is('application/json')) return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE')
  const body = req.body
  if (!validBody(body)) return fail(res, 400, 'VALIDATION')
  if (body.destination !== DESTINATION) return fail(res, 422, 'UNKNOWN_DESTINATION')
  const record = VAULT.get(body.partnerPaymentReference)
  const email = body.customerIdentifiers?.email
  if (record === undefined || (email !== undefined && email.toLowerCase() !== record.customerIdentifiers.email)) return fail(res, 404, 'NOT_FOUND')

  const form = new URLSearchParams([['payment_method', record.paymentMethod], ...fixedFields])
  const answer = await fetch(target, { method: 'POST', headers: stripeHeaders, body: form.toString(), signal: AbortSignal.timeout(20_000) })
  const envelope = await answer.json() as any
  const details = envelope?.response_details
  if (!answer.ok || typeof details?.status !== 'number') return fail(res, 502, 'PSP_ERROR')
  const headers: Record<string, string> = {}
  for (const h of details.headers) headers[String(h.name).toLowerCase()] = String(h.value)
  let relayed: unknown = details.body
  try { relayed = JSON.parse(details.body) } catch {}
  res.json({ status: details.status, headers, body: relayed, 'request-time': envelope.request_context?.destination_duration })
}

const app = express()
app.post(ROUTE, checkIp, checkToken, express.json({ limit: '8kb' }), forward)
const server = app.listen(0, '127.0.0.1')
server.once('listening', () => {
  const { port } = server.address() as AddressInfo
  serveCommands({ url: `http://127.0.0.1:${port}` }, serverProbe(), () => new Promise(resolve => server.close(() => resolve())))
})
