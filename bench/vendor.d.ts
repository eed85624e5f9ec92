// The few members of these untyped dev dependencies the bench uses (autocannon: autocannon.d.ts).

declare module 'express' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http'
  export interface Request extends IncomingMessage {
    body: unknown
    get: (name: string) => string | undefined
    is: (type: string) => string | false | null
  }
  export interface Response extends ServerResponse {
    status: (code: number) => Response
    json: (body: unknown) => Response
  }
  export type NextFunction = (err?: unknown) => void
  export type Handler = (req: Request, res: Response, next: NextFunction) => unknown
  export interface Application {
    post: (path: string, ...handlers: Handler[]) => Application
    listen: (port: number, host: string) => Server
  }
  interface Express {
    (): Application
    json: (options?: { limit?: string | number }) => Handler
  }
  const express: Express
  export default express
}

declare module 'jsonwebtoken' {
  import type { KeyObject } from 'node:crypto'
  export interface VerifyOptions {
    algorithms?: string[]
    issuer?: string
    audience?: string
    maxAge?: string | number
    clockTolerance?: number
  }
  const jwt: {
    verify: (token: string, key: KeyObject | string, options?: VerifyOptions) => string | Record<string, any>
  }
  export default jwt
}
