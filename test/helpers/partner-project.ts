import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/** What a partner does with the package: pack it from a clean tree, install it, compile against it. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const NAME = 'fastify-rokt-card-forwarding'
const exec = promisify(execFile)

/**
 * Runs a plain npm, node or tsc process: no test loader, no coverage hooks. tap's process tracking
 * puts its `--import` hook back into NODE_OPTIONS of every child it sees, and TypeScript 7's ESM
 * `bin/tsc` cannot start under it: `env -u` takes it out again, after the spawn.
 */
export async function run (command: string, args: string[], cwd: string): Promise<{ stdout: string, stderr: string }> {
  return await exec('env', ['-u', 'NODE_OPTIONS', command, ...args], { cwd, env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }, maxBuffer: 16 * 1024 * 1024 })
}

/** What `npm run build` reads, and what the tarball ships besides dist: a checkout with no dist/. */
/** What the build reads, and what package.json's `files` ships besides the build: nothing else of the checkout. */
const SOURCES = [
  'package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.build.cjs.json', 'index.ts', 'lib', 'types', 'openapi',
  ...(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files as string[]).filter(entry => entry !== 'dist')
]

/** Copies the sources into `dir` (sharing this checkout's node_modules) and packs them: npm's own prepack must build. */
export async function packFromCleanTree (dir: string): Promise<{ filename: string, files: Array<{ path: string }> }> {
  const tree = join(dir, 'source')
  for (const entry of SOURCES) cpSync(join(ROOT, entry), join(tree, entry), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir')
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], tree)
  // npm prints the prepack script's output before the JSON.
  return JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1))[0]
}

/** The compilers and @types/node versions partners use, dev dependencies (TypeScript 7 through test/compilers/typescript-7). */
export const COMPILERS = {
  'TypeScript 5.9': join(ROOT, 'node_modules/typescript/bin/tsc'),
  'TypeScript 7': join(ROOT, 'node_modules/typescript-7/node_modules/typescript/bin/tsc')
}
export const NODE_TYPES = {
  '@types/node 20': join(ROOT, 'node_modules/@types/node'),
  '@types/node latest': join(ROOT, 'node_modules/types-node-latest')
}

export function versionOf (packageDir: string): string {
  return JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version
}

/**
 * A strict tsconfig as the README gives it, with `skipLibCheck: false` so that every shipped
 * declaration is compiled, and `typeRoots` pointing at one @types/node version.
 */
export function writeTsconfig (project: string, name: string, nodeTypes: string, compilerOptions: Record<string, unknown>, files: string[]): string {
  const roots = join(project, `types-${name}`)
  mkdirSync(roots, { recursive: true })
  symlinkSync(nodeTypes, join(roots, 'node'), 'dir')
  const file = `tsconfig.${name}.json`
  writeFileSync(join(project, file), JSON.stringify({
    compilerOptions: {
      module: 'nodenext',
      target: 'es2022',
      strict: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [roots],
      ...compilerOptions
    },
    files
  }, null, 2))
  return file
}
