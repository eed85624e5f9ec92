import { readFile, stat } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * Reads a doctor config file: a JSON file (whose `{ "$env": "NAME" }` values are read from the
 * environment, so it holds no secrets), or a JavaScript module whose default export is the
 * plugin's options, or a function returning them (possibly async).
 */
export async function loadConfig (file: string, cwd: string): Promise<Record<string, any>> {
  const path = resolve(cwd, file)
  // Said plainly: fs and the module loader would say ENOENT or ERR_MODULE_NOT_FOUND.
  const found = await stat(path).catch(() => undefined)
  if (found === undefined) throw new Error(`${file} does not exist (looked for ${path})`)
  if (!found.isFile()) throw new Error(`${file} is not a file`)
  let config: unknown
  if (extname(path) === '.json') {
    const text = await readFile(path, 'utf8')
    let parsed: unknown
    // The parser's message quotes the text around the error, which may be a key: never shown.
    try { parsed = JSON.parse(text) } catch { throw new Error(`${file} is not valid JSON`) }
    config = withEnv(parsed, '')
  } else {
    try {
      config = (await import(pathToFileURL(path).href)).default
    } catch (err) {
      // The engine's SyntaxError or ReferenceError quotes the module's source, which may be a key.
      if (err instanceof SyntaxError || err instanceof ReferenceError) {
        throw new Error(`${file} failed to load (${err.name}; its message is not shown, it may quote the config)`)
      }
      throw err
    }
    if (typeof config === 'function') config = await config()
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new Error('must export the plugin options: an object, or a function returning one')
  }
  return config as Record<string, any>
}

function withEnv (value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => withEnv(item, `${path}[${i}]`))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value)
  if (entries.length === 1 && entries[0][0] === '$env') {
    const name = entries[0][1]
    const found = process.env[String(name)]
    if (found === undefined) throw new Error(`${path}: environment variable ${String(name)} is not set`)
    return found
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, withEnv(item, path === '' ? key : `${path}.${key}`)]))
}
