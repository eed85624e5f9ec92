// autocannon ships no types and @types/autocannon is not installed: the little the bench and the soak use.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'
  interface AutocannonRequest {
    method?: string
    /** Runs before every request and may rewrite it. */
    setupRequest?: (request: any, context: any) => any
    onResponse?: (status: number, body: string, context: any) => void
  }
  interface AutocannonOptions {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    duration?: number
    amount?: number
    timeout?: number
    pipelining?: number
    overallRate?: number
    requests?: AutocannonRequest[]
  }
  interface AutocannonResult {
    requests: { total: number }
    latency: { p50: number, p99: number }
    errors: number
    timeouts: number
    statusCodeStats: Record<string, { count: number }>
  }
  /** Without a callback: a promise of the result. With one: the run's event emitter ('response', ...). */
  function autocannon (options: AutocannonOptions): Promise<AutocannonResult>
  function autocannon (options: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void): EventEmitter
  export default autocannon
}
