import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import cardForwarding, { cardForwardingOptions, stripe } from '../index.ts'

/** The OpenAPI document partners hand to Rokt; dist/openapi.json in the package. */
export const OPENAPI_FILE = new URL('../openapi/rokt-card-forwarding.openapi.json', import.meta.url)

/** The route's schemas exactly as @fastify/swagger renders them, with the bearer scheme Rokt must use. */
export async function openApiDocument (): Promise<Record<string, any>> {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  const app = Fastify({ logger: false })
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rokt card forwarding: partner endpoint',
        version,
        description: 'The endpoint a Rokt partner exposes with fastify-rokt-card-forwarding. Rokt calls it from its ' +
          'allowlisted IPs with a short-lived OAuth 2.0 bearer JWT; the partner asks its PSP to forward the vaulted ' +
          "card to Rokt's PCI endpoint and answers with the destination's response."
      },
      servers: [{ url: 'https://{host}', variables: { host: { default: 'api.partner.example', description: "The partner's API host" } } }],
      components: {
        securitySchemes: {
          roktBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: "Issued to Rokt by the partner's identity provider" }
        }
      },
      security: [{ roktBearer: [] }]
    }
  })
  // Placeholder options: the route's schemas do not depend on them.
  await app.register(cardForwarding, cardForwardingOptions({
    allowedIps: ['203.0.113.0/24'],
    auth: { secret: 'openapi-document-placeholder-secret', issuer: 'https://idp.partner.example/', audience: 'rokt-payment-sharing' },
    psps: { stripe: stripe({ apiKey: 'sk_test_openapi' }) },
    /* c8 ignore next: no request is ever made to this app, only its schemas are read */
    resolvePaymentMethod: () => null,
    destinations: { 'COM.ROKT.CATALOG': { url: 'https://rokt.example/' } }
  }))
  await app.ready()
  const document = app.swagger() as Record<string, any>
  await app.close()
  return document
}
