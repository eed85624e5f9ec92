import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import type { LoadSheddingOptions } from '../../types/index.ts'
import { isObject } from '../checks.ts'

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

/** @fastify/under-pressure's settings (same option names), or false when load shedding is off. */
export function resolveLoadShedding (options: LoadSheddingOptions | false | undefined): Required<LoadSheddingOptions> | false {
  if (options === false) return false
  if (options !== undefined && !isObject(options)) throw new Error('loadShedding: must be an object or false')
  const settings = { ...loadSheddingDefaults(), ...options }
  for (const name of NAMES) {
    const value = settings[name]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`loadShedding.${name}: must be a non-negative number`)
  }
  if (settings.maxEventLoopUtilization > 1) throw new Error('loadShedding.maxEventLoopUtilization: must be from 0 to 1')
  if (settings.retryAfter < 1) throw new Error('loadShedding.retryAfter: must be at least 1 (seconds)')
  return settings
}
