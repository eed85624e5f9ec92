import { Type, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler'
import type { FastifySchemaCompiler } from 'fastify'

/** Printable ASCII without spaces: no CR/LF, no control or non-ASCII characters. */
const PRINTABLE = '^[\\x21-\\x7E]+$'

export const CustomerIdentifiersSchema = Type.Object({
  email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]{1,64}@[^\\s@]+$' })),
  customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: PRINTABLE }))
}, { additionalProperties: false, minProperties: 1 })

/** Rokt's body. Unknown top-level fields are ignored, never used (DESIGN §6); inside, all is strict. */
export const PaymentSharingBodySchema = Type.Object({
  partnerPaymentReference: Type.String({ minLength: 1, maxLength: 128, pattern: PRINTABLE }),
  destination: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
  customerIdentifiers: Type.Optional(CustomerIdentifiersSchema)
}, { $id: 'RoktPaymentSharingRequest' })

export const IdempotencyKeyHeaderSchema = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: PRINTABLE }))
})

export const ForwardResponseSchema = Type.Object({
  status: Type.Integer({ description: "The destination's HTTP status, as the PSP relayed it" }),
  headers: Type.Record(Type.String(), Type.String(), { description: "The destination's response headers" }),
  body: Type.Unknown({ description: "The destination's body: parsed JSON when it answered JSON, else the raw string" }),
  'request-time': Type.Number({ description: 'Duration of the forward in ms' })
}, { $id: 'RoktPaymentSharingResponse' })

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String()
})

/**
 * The route's own validator: TypeBox's compiler never coerces types or strips fields (Fastify's
 * default Ajv does both), and its messages name the failing path, never the value.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const check = TypeCompiler.Compile(schema)
  return (data: unknown) => {
    if (check.Check(data)) return { value: data }
    // Check failed, so there is a first error.
    const { path } = check.Errors(data).First() as ValueError
    return { error: new Error(`body${path} is invalid`) }
  }
}
