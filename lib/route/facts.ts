import type { FastifyInstance, FastifyRequest } from 'fastify'

/** What the route has learnt about a request, as each step passes: the facts its audit events carry. */
export interface RequestFacts {
  /** The verified client */
  actor?: string
  destination?: string
  referenceHash?: string
  /** Set once a PSP was chosen: a failure from then on is a forward's */
  psp?: string
  /** Set with psp: the forward's id at the PSP (see correlation.ts) */
  correlationId?: string
}

const FACTS = 'roktCardForwardingFacts'
const NONE: RequestFacts = Object.freeze({})

export function registerRequestFacts (fastify: FastifyInstance): void {
  fastify.decorateRequest(FACTS, null)
}

export function factsOf (request: FastifyRequest): RequestFacts {
  return (request as any)[FACTS] ?? NONE
}

export function setFacts (request: FastifyRequest, facts: RequestFacts): RequestFacts {
  ;(request as any)[FACTS] = facts
  return facts
}
