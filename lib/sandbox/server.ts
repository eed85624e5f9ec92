import type { FastifyInstance } from 'fastify'

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string
  close: () => Promise<void>
}

/** Listens on 127.0.0.1 at a free port (or the one given). */
export async function listen (app: FastifyInstance, port = 0): Promise<RunningServer> {
  const address = await app.listen({ host: '127.0.0.1', port })
  return { url: address, close: () => app.close() }
}
