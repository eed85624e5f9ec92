// Shared by the per-PSP examples: a fake Rokt destination, a signing key, and one Rokt-like call.
import type { FastifyInstance } from 'fastify'
import { generateTestKeys, mintToken, startFakeDestination } from '../lib/sandbox/index.ts'

export const issuer = 'https://rokt-sandbox.example/'
export const audience = 'rokt-payment-sharing'
export const keys = generateTestKeys('ES256', 'example-key')
export const destination = await startFakeDestination()

/** The auth option every example uses: Rokt's tokens, verified with a pinned public key. */
export const auth = { publicKey: keys.publicKey, issuer, audience, requiredScope: 'payment-sharing' }

/** Calls the route as Rokt would, prints the answer, and closes everything. */
export async function callAsRokt (app: FastifyInstance, partnerPaymentReference: string): Promise<void> {
  const token = mintToken({ privateKey: keys.privateKey, algorithm: 'ES256', kid: 'example-key', issuer, audience, clientId: 'rokt', subject: 'rokt', scope: 'payment-sharing' })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/initiate-payment-sharing',
    remoteAddress: '127.0.0.1',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: { customerIdentifiers: { email: 'john.smith@example.com' }, partnerPaymentReference, destination: 'COM.ROKT.CATALOG' }
  })
  console.log(res.statusCode, JSON.stringify(res.json(), null, 2))
  await app.close()
  await destination.close()
}
