// autocannon ships no types and @types/autocannon is not installed: the little the soak uses.
declare module 'autocannon' {
  interface AutocannonRequest {
    method?: string
    setupRequest?: (request: any, context: any) => any
    onResponse?: (status: number, body: string, context: any) => void
  }
  interface AutocannonOptions {
    url: string
    connections?: number
    amount?: number
    timeout?: number
    requests?: AutocannonRequest[]
  }
  interface AutocannonResult {
    requests: { total: number }
    latency: { p50: number, p99: number }
    errors: number
    timeouts: number
  }
  export default function autocannon (options: AutocannonOptions): Promise<AutocannonResult>
}
