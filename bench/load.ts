import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  headers: Record<string, string>
  body: string
  connections: number
  durationSeconds: number
}

export interface LoadResult {
  requests: number
  rps: number
  /** Latencies in ms, from every response (autocannon's own histogram keeps whole ms and 2xx only). */
  p50: number
  p97_5: number
  p99: number
  mean: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
}

/** One autocannon run, POSTing the same request over `connections` keep-alive connections. */
export function runLoad (options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const tracker = autocannon({
      url: options.url,
      method: 'POST',
      headers: options.headers,
      body: options.body,
      connections: options.connections,
      duration: options.durationSeconds,
      pipelining: 1
    }, (err, result) => {
      if (err !== null) return reject(err)
      const seconds = (performance.now() - started) / 1000
      const sorted = Float64Array.from(latencies).sort()
      const statuses: Record<string, number> = {}
      for (const [code, { count }] of Object.entries(result.statusCodeStats)) statuses[code] = count
      resolve({
        requests: sorted.length,
        rps: sorted.length / seconds,
        p50: percentile(sorted, 0.5),
        p97_5: percentile(sorted, 0.975),
        p99: percentile(sorted, 0.99),
        mean: sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1),
        statuses,
        errors: result.errors,
        timeouts: result.timeouts
      })
    })
    tracker.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => { latencies.push(ms) })
  })
}

export function percentile (sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}
