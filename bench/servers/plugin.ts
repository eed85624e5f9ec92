import { serveCommands, serverProbe } from '../child.ts'
import { buildPluginApp } from '../plugin-app.ts'
import { readConfig } from '../shared.ts'

/** Workload 1 (and 4): the plugin's full route in a host Fastify app. */
const config = readConfig()
const app = await buildPluginApp({ ...config, key: { publicKey: config.publicKey } })
const url = await app.listen({ host: '127.0.0.1', port: 0 })
serveCommands({ url }, serverProbe(), () => app.close())
