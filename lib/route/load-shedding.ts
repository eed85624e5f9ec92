import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import type { LoadSheddingOptions } from '../../types/index.ts'

const NAMES = ['maxEventLoopDelay', 'maxHeapUsedBytes', 'maxRssBytes', 'maxEventLoopUtilization', 'retryAfter', 'sampleInterval'] as const

/** 90% of the memory this process may use: the cgroup limit when there is one, else the host's memory. */
export function defaultMaxRss (constrained: number | undefined, total: number): number {
  const limit = constrained !== undefined && constrained > 0 && constrained < total ? constrained : total
  return Math.floor(limit * 0.9)
}

export function loadSheddingDefaults (): Required<LoadSheddingOptions> {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.()
  return {
    maxEventLoopDelay: 1000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    maxRssBytes: defaultMaxRss(constrained, totalmem()),
    maxEventLoopUtilization: 0,
    retryAfter: 5,
    sampleInterval: 1000
  }
}

/**
 * Registers @fastify/under-pressure inside the plugin's encapsulated scope: its onRequest hook is
 * the first to run on this plugin's routes only (before IP, token, body or PSP work), the host's
 * routes are untouched, and a host's own under-pressure keeps working beside it.
 */
export async function registerLoadShedding (fastify: FastifyInstance, options: LoadSheddingOptions | false | undefined): Promise<void> {
  if (options === false) return
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new Error('loadShedding: must be an object or false')
  const settings = { ...loadSheddingDefaults(), ...options }
  for (const name of NAMES) {
    const value = settings[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`loadShedding.${name}: must be a non-negative number`)
  }
  if (settings.maxEventLoopUtilization > 1) throw new Error('loadShedding.maxEventLoopUtilization: must be from 0 to 1')
  if (settings.retryAfter < 1) throw new Error('loadShedding.retryAfter: must be at least 1 (seconds)')
  await fastify.register(underPressure, settings)
}
