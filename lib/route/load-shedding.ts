import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import type { LoadSheddingOptions } from '../../types/index.ts'

/**
 * Registers @fastify/under-pressure inside the plugin's encapsulated scope: its onRequest hook is
 * the first to run on this plugin's routes only (before IP, token, body or PSP work), the host's
 * routes are untouched, and a host's own under-pressure keeps working beside it.
 */
export async function registerLoadShedding (fastify: FastifyInstance, settings: Required<LoadSheddingOptions> | false): Promise<void> {
  if (settings !== false) await fastify.register(underPressure, settings)
}
