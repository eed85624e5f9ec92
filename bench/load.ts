import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  headers: Record<string, string>
  body: string
  connections: number
  durationSeconds: number
  /** Authorization values to cycle through, one per request (instead of the one in `headers`). */
  authorizations?: string[]
  /** Bodies to cycle through, one per request, in step with `authorizations` (instead of `body`). */
  bodies?: string[]
  /** Requests per second over all connections; as fast as the server answers when absent. */
  rate?: number
}

export interface LoadRun {
  /** Every response's latency in ms (autocannon's own histogram keeps whole ms, and 2xx only). */
  latencies: number[]
  seconds: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  /** CPU the load generator (this process) spent */
  cpuMicros: number
}

/** One autocannon run, POSTing the same request over `connections` keep-alive connections. */
export function runLoad (options: LoadOptions): Promise<LoadRun> {
  const latencies: number[] = []
  const started = performance.now()
  const cpu = process.cpuUsage()
  return new Promise((resolve, reject) => {
    const tracker = autocannon({
      url: options.url,
      method: 'POST',
      headers: options.headers,
      body: options.body,
      connections: options.connections,
      duration: options.durationSeconds,
      pipelining: 1,
      ...(options.rate === undefined ? {} : { overallRate: options.rate }),
      ...(options.authorizations === undefined && options.bodies === undefined ? {} : { requests: [{ setupRequest: cycle(options) }] })
    }, (err, result) => {
      if (err !== null) return reject(err)
      const used = process.cpuUsage(cpu)
      const statuses: Record<string, number> = {}
      for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count
      resolve({
        latencies,
        seconds: (performance.now() - started) / 1000,
        statuses,
        errors: result.errors,
        timeouts: result.timeouts,
        cpuMicros: used.user + used.system
      })
    })
    tracker.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => { latencies.push(ms) })
  })
}

/** One counter for all connections, so concurrent requests never share a body. */
function cycle ({ authorizations, bodies }: LoadOptions) {
  let next = 0
  return (request: { headers: Record<string, string>, body: string }) => {
    if (authorizations !== undefined) request.headers.authorization = authorizations[next % authorizations.length]
    if (bodies !== undefined) request.body = bodies[next % bodies.length]
    next++
    return request
  }
}

export interface LatencySummary { p50: number, p97_5: number, p99: number, mean: number }

export function summariseLatencies (latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort()
  const at = (q: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
  return { p50: at(0.5), p97_5: at(0.975), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1) }
}
