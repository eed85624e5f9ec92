// autocannon ships no types and @types/autocannon is not installed: the little the bench and soak use.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'
  export interface Request {
    method?: string
    /** Runs before every request and may rewrite it. */
    setupRequest?: (request: any, context: any) => any
    onResponse?: (status: number, body: string, context: any) => void
  }
  export interface Options {
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
    requests?: Request[]
  }
  export interface Result {
    requests: { total: number }
    latency: { p50: number, p99: number }
    errors: number
    timeouts: number
    duration: number
    statusCodeStats: Record<string, { count: number }>
  }
  function autocannon (options: Options): Promise<Result>
  function autocannon (options: Options, done: (err: Error | null, result: Result) => void): EventEmitter
  export default autocannon
}
