import { Type, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, ValueErrorType, type ValueError } from '@sinclair/typebox/compiler'
import type { FastifySchemaCompiler } from 'fastify'
import { ANSWER_CODES } from './error-codes.ts'

/** Printable ASCII without spaces: no CR/LF, no control or non-ASCII characters. */
const PRINTABLE = '^[\\x21-\\x7E]+$'

export const CustomerIdentifiersSchema = Type.Object({
  email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^\\s@]{1,64}@[^\\s@]+$', description: "The shopper's email, compared in RFC 8265's prepared form (case and width folded, NFC; an address with a compatibility character never matches)" })),
  customerId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: PRINTABLE, description: "The partner's customer id, compared exactly" }))
}, {
  additionalProperties: false,
  minProperties: 1,
  description: "What Rokt knows about the shopper: every identifier sent must match the vault's record, else 404"
})

/** Rokt's body. Unknown top-level fields are ignored, never used (Rokt may add fields: README, Security); inside, all is strict. */
export const PaymentSharingBodySchema = Type.Object({
  partnerPaymentReference: Type.String({ minLength: 1, maxLength: 128, pattern: PRINTABLE, description: "The partner's reference for the first purchase, as given to Rokt's SDK" }),
  destination: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: "Rokt's destination id, e.g. COM.ROKT.CATALOG" }),
  customerIdentifiers: Type.Optional(CustomerIdentifiersSchema)
}, { $id: 'RoktPaymentSharingRequest', description: 'Forward the card vaulted for this reference to this destination' })

export const ForwardResponseSchema = Type.Object({
  status: Type.Integer({ description: "The destination's HTTP status, as the PSP relayed it" }),
  headers: Type.Record(Type.String(), Type.String(), { description: "The destination's response headers" }),
  body: Type.Unknown({ description: "The destination's body: parsed JSON when it answered JSON, else the raw string" }),
  'request-time': Type.Number({ description: 'Duration of the forward in ms' })
}, { $id: 'RoktPaymentSharingResponse', description: "The PSP forwarded the card: the destination's answer, as the PSP relayed it" })

export const ErrorSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: `Stable, by status: ${[...ANSWER_CODES].map(([code, status]) => `${status} ${code}`).join(', ')}` }),
  error: Type.String({ description: 'The status text' }),
  message: Type.String({ description: 'Safe to show: never a card number, token, key or email' })
}, { description: "Fastify's error shape, always with one of the codes listed. After a 4xx nothing was forwarded, nor after a 500 CARD_FORWARDING_INTERNAL_ERROR (the partner's vault lookup or store failed, whatever its own error said)" })

/**
 * The route's own validator: TypeBox's compiler never coerces types or strips fields (Fastify's
 * default Ajv does both), and its messages name the failing path, never the value.
 */
export const strictValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema }) => {
  const check = TypeCompiler.Compile(schema)
  return (data: unknown) => {
    if (check.Check(data)) return { value: data }
    // Check failed, so there is a first error.
    const { path, type } = check.Errors(data).First() as ValueError
    // An unknown key's path ends with the caller's key itself, which may be an email or a PAN: name its parent.
    const at = type === ValueErrorType.ObjectAdditionalProperties ? path.slice(0, path.lastIndexOf('/')) : path
    return { error: new Error(`body${at} is invalid`) }
  }
}
