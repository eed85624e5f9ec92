import type { FastifyInstance } from 'fastify'
import { createRecorder, type Recorder } from './recorder.ts'

export interface RunningServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string
  close: () => Promise<void>
}

/** The options every `start*` function of the sandbox takes, besides its own. */
export interface SandboxServerOptions<T> {
  /** The port to listen on, on 127.0.0.1 (`start*` only). Default: a free one. */
  port?: number
  /** Where the requests received are recorded. Default: a new recorder keeping `maxRecorded` of them. */
  recorder?: Recorder<T>
  /**
   * Without a `recorder`: keep at most this many recent requests in `requests` (the oldest are dropped;
   * `calls` still counts every one). `Infinity` keeps them all. Default 1000.
   */
  maxRecorded?: number
}

/** What every `start*` function of the sandbox returns, besides its own extras. */
export interface RecordingServer<T> extends RunningServer {
  /** The most recent requests received, oldest first (the recorder's array: at most `maxRecorded`). */
  requests: T[]
  /** How many requests were calls to the simulated API since the start, dropped ones included. */
  readonly calls: number
}

/** The recorder `options` ask for: theirs, or a new one keeping `options.maxRecorded` (into `requests` if given). */
export function recorderFor<T> (options: SandboxServerOptions<T>, requests?: T[]): Recorder<T> {
  return options.recorder ?? createRecorder({ requests, maxRecorded: options.maxRecorded })
}

/** A simulator before it listens: its app and the recorder the app records into. */
export interface SimulatorParts<T> {
  app: FastifyInstance
  recorder: Recorder<T>
}

/** Listens on 127.0.0.1 at a free port (or the one given). */
export async function listen (app: FastifyInstance, port = 0): Promise<RunningServer> {
  const address = await app.listen({ host: '127.0.0.1', port })
  return { url: address, close: () => app.close() }
}

/** Listens like `listen`, and shows what the recorder recorded. */
export async function serve<T> ({ app, recorder }: SimulatorParts<T>, port?: number): Promise<RecordingServer<T>> {
  const server = await listen(app, port)
  return { url: server.url, close: server.close, requests: recorder.requests, get calls () { return recorder.calls } }
}

/** Every body reaches the routes as the raw string, whatever its media type. */
export function readBodiesAsText (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => { done(null, body) })
}
