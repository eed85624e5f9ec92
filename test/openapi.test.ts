import { readFileSync } from 'node:fs'
import t from 'tap'
import * as errors from '../lib/errors.ts'
import { OPENAPI_FILE, openApiDocument } from '../scripts/openapi.ts'

const document = await openApiDocument()
const operation = document.paths?.['/v1/initiate-payment-sharing']?.post

t.test('@fastify/swagger sees the route', async t => {
  t.same(Object.keys(document.paths), ['/v1/initiate-payment-sharing'])
  t.ok(operation, 'POST is documented')
  t.same(document.security, [{ roktBearer: [] }])
  t.match(document.components.securitySchemes.roktBearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
})

t.test('its body schema is the strict Rokt request', async t => {
  t.equal(operation.requestBody.required, true)
  const schema = operation.requestBody.content['application/json'].schema
  t.same(schema.required, ['partnerPaymentReference', 'destination'])
  t.same(Object.keys(schema.properties), ['partnerPaymentReference', 'destination', 'customerIdentifiers'])
  t.match(schema.properties.partnerPaymentReference, { type: 'string', minLength: 1, maxLength: 128 })
  t.match(schema.properties.destination, { type: 'string', pattern: '^[A-Za-z0-9._-]+$' })
  t.match(schema.properties.customerIdentifiers, { type: 'object', additionalProperties: false, minProperties: 1 })
  t.same(Object.keys(schema.properties.customerIdentifiers.properties), ['email', 'customerId'])
})

t.test('its responses: the relayed answer on 200, the error shape on 4XX and 5XX', async t => {
  t.same(Object.keys(operation.responses), ['200', '4XX', '5XX'])
  const ok = operation.responses['200'].content['application/json'].schema
  t.same(ok.required, ['status', 'headers', 'body', 'request-time'])
  t.match(ok.properties, { status: { type: 'integer' }, headers: { type: 'object' }, 'request-time': { type: 'number' } })
  for (const status of ['4XX', '5XX']) {
    const schema = operation.responses[status].content['application/json'].schema
    t.same(schema.required, ['statusCode', 'code', 'error', 'message'], status)
  }
})

t.test('every error code of the package is documented with its status', async t => {
  const documented: string = operation.responses['4XX'].content['application/json'].schema.properties.code.description
  // OAuthError answers on the token endpoint, in RFC 6749's shape, never on the route.
  const classes = Object.values(errors).filter(value => typeof value === 'function' && value.prototype instanceof Error && value !== errors.OAuthError)
  t.ok(classes.length >= 9)
  for (const ErrorClass of classes) {
    const { statusCode, code } = new (ErrorClass as any)()
    t.ok(documented.includes(`${statusCode} ${code}`), `${statusCode} ${code}`)
  }
  t.ok(documented.includes('400 FST_ERR_VALIDATION'))
})

t.test('the shipped document is what @fastify/swagger generates (else run npm run build:openapi)', async t => {
  t.same(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')), document)
})
