import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** The orchestrator's side of a bench child process (see child.ts). */
export interface BenchChild {
  /** What the child announced when it was ready (its URL, say). */
  info: Record<string, any>
  ask: (cmd: string) => Promise<Record<string, any>>
  stop: () => Promise<void>
}

interface Reply { reply: string, [field: string]: unknown }

/** Runs bench/<file> in its own Node process (TypeScript through tsx), with IPC. */
export async function startChild (file: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<BenchChild> {
  const path = fileURLToPath(new URL(file, import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, path], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env }
  })
  const info = await replyTo(child, 'ready', file)

  async function ask (cmd: string): Promise<Record<string, any>> {
    const answer = replyTo(child, cmd, file)
    child.send({ cmd })
    return answer
  }

  async function stop (): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.send({ cmd: 'exit' })
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }

  return { info, ask, stop }
}

function replyTo (child: ChildProcess, cmd: string, file: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    function onMessage (message: Reply) {
      if (message.reply !== cmd) return
      cleanup()
      const { reply: _reply, ...rest } = message
      resolve(rest)
    }
    function onExit (code: number | null) {
      cleanup()
      reject(new Error(`${file} exited (${code}) before answering ${cmd}`))
    }
    function cleanup () {
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
