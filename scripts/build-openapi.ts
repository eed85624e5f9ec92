import { mkdirSync, writeFileSync } from 'node:fs'
import { OPENAPI_FILE, openApiDocument } from './openapi.ts'

mkdirSync(new URL('.', OPENAPI_FILE), { recursive: true })
writeFileSync(OPENAPI_FILE, JSON.stringify(await openApiDocument(), null, 2) + '\n')
