import type { FastifyInstance, FastifySchemaCompiler } from 'fastify'
import type { PaymentSharingRequest } from '../../types/index.ts'
import type { Audit } from '../audit.ts'
import { redactingSerializers } from '../logging.ts'
import type { Authenticate } from '../edge/auth.ts'
import type { ResolvedOptions } from '../options/index.ts'
import { createRequestChecks } from './request-checks.ts'
import { registerRequestFacts } from './facts.ts'
import { createForwardHandler } from './forward.ts'
import { createIdempotency } from './idempotency.ts'
import { registerJsonParser } from './json-parser.ts'
import { ErrorSchema, ForwardResponseSchema, PaymentSharingBodySchema, strictValidatorCompiler } from './schema.ts'
import { registerShutdown } from './shutdown.ts'

/** Registers POST /v1/initiate-payment-sharing (or `path`) with its checks, parser and handler, in the plugin's scope. */
export function registerPaymentRoute (fastify: FastifyInstance, options: ResolvedOptions, authenticate: Authenticate, audit: Audit): void {
  const shutdown = registerShutdown(fastify, options.shutdownGraceMs)
  const idempotency = createIdempotency(options.idempotency)
  registerRequestFacts(fastify)
  registerJsonParser(fastify)
  fastify.route<{ Body: PaymentSharingRequest }>({
    method: 'POST',
    url: options.path,
    bodyLimit: options.bodyLimit,
    schema: {
      body: PaymentSharingBodySchema,
      response: { 200: ForwardResponseSchema, '4xx': ErrorSchema, '5xx': ErrorSchema }
    },
    validatorCompiler: strictValidatorCompiler as FastifySchemaCompiler<any>,
    logSerializers: redactingSerializers,
    onRequest: [shutdown.refuseWhenClosing, ...createRequestChecks(options.isAllowedIp, authenticate)],
    handler: createForwardHandler({ options, audit, idempotency, shutdown })
  })
}
