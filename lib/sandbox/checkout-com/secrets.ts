import type { FastifyInstance } from 'fastify'
import { isJsonObject as isObject } from '../json.ts'

/**
 * Checkout.com's Secrets API on the forward host: `POST /secrets`, `GET /secrets`,
 * `PATCH /secrets/{name}`, `DELETE /secrets/{name}` (checkout-sdk-node src/api/forward/forward.js,
 * checkout-sdk-go forward/forward.go). Names are "1-64 characters, alphanumeric + underscore",
 * values at most 8KB; an update bumps `version`; answers are `SecretResponse { name, created_at,
 * updated_at, version, entity_id? }` (never the value) and `{ data: [...] }` for the list. Not
 * documented: the status codes and error bodies; assumed 201 for a creation, 204 for a deletion,
 * 409 for a name in use, 404 for an unknown one, 422 `request_invalid` for a bad name or value.
 */

interface Secret { value: string, created_at: string, updated_at: string, version: number, entity_id?: string }

const NAME = /^[A-Za-z0-9_]{1,64}$/
const MAX_VALUE_BYTES = 8 * 1024

function describe (name: string, secret: Secret) {
  const { value: _value, ...metadata } = secret
  return { name, ...metadata }
}

function invalid (codes: string[]) {
  return { error_type: 'request_invalid', error_codes: codes }
}

function valueProblem (value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'value_required'
  return Buffer.byteLength(value) > MAX_VALUE_BYTES ? 'value_too_long' : undefined
}

/** The secrets routes, over `secrets` (name -> secret), which the forward route reads. */
export function registerSecrets (app: FastifyInstance, secrets: Map<string, Secret>): void {
  app.post('/secrets', async (request, reply) => {
    const body = isObject(request.body) ? request.body : {}
    const name = body.name
    if (typeof name !== 'string' || !NAME.test(name)) return reply.code(422).send(invalid(['name_invalid']))
    const problem = valueProblem(body.value)
    if (problem !== undefined) return reply.code(422).send(invalid([problem]))
    if (secrets.has(name)) return reply.code(409).send(invalid(['secret_already_exists']))
    const now = new Date().toISOString()
    const secret: Secret = { value: body.value as string, created_at: now, updated_at: now, version: 1 }
    if (typeof body.entity_id === 'string') secret.entity_id = body.entity_id
    secrets.set(name, secret)
    return reply.code(201).send(describe(name, secret))
  })

  app.get('/secrets', async () => ({ data: [...secrets].map(([name, secret]) => describe(name, secret)) }))

  app.patch('/secrets/:name', async (request, reply) => {
    const { name } = request.params as { name: string }
    const secret = secrets.get(name)
    if (secret === undefined) return reply.code(404).send()
    const body = isObject(request.body) ? request.body : {}
    if (body.value !== undefined) {
      const problem = valueProblem(body.value)
      if (problem !== undefined) return reply.code(422).send(invalid([problem]))
      secret.value = body.value as string
    }
    if (typeof body.entity_id === 'string') secret.entity_id = body.entity_id
    secret.version += 1
    secret.updated_at = new Date().toISOString()
    return describe(name, secret)
  })

  app.delete('/secrets/:name', async (request, reply) => {
    const { name } = request.params as { name: string }
    return reply.code(secrets.delete(name) ? 204 : 404).send()
  })
}

/** Secrets as the partner registered them (`options.secrets`), versioned from 1. */
export function secretStore (initial: Record<string, string> | undefined): Map<string, Secret> {
  const now = new Date().toISOString()
  return new Map(Object.entries(initial ?? {}).map(([name, value]) => [name, { value, created_at: now, updated_at: now, version: 1 }]))
}
