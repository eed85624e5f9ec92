import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** The orchestrator's side of a bench child process (see child.ts). */
export interface BenchChild {
  /** What the child announced when it was ready (its URL, say). */
  info: Record<string, any>
  ask: (cmd: string) => Promise<Record<string, any>>
  stop: () => Promise<void>
  /** The spawned process's id (valgrind's, under a wrapper: the same process, it runs Node in place) */
  pid: number
}

interface Reply { reply: string, [field: string]: unknown }

/**
 * Runs bench/<file> in its own Node process (TypeScript through tsx), with IPC; `wrapper` is a
 * command that runs Node under it (valgrind, for bench:instructions).
 */
export async function startChild (file: string, env: Record<string, string> = {}, nodeArgs: string[] = [], wrapper: string[] = []): Promise<BenchChild> {
  const path = fileURLToPath(new URL(file, import.meta.url))
  const argv = [process.execPath, '--import', 'tsx', ...nodeArgs, path]
  const child = spawn(wrapper[0] ?? argv[0], [...wrapper.slice(1), ...(wrapper.length > 0 ? argv : argv.slice(1))], {
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
    // Under valgrind, closing and writing its counts takes far longer than Node alone.
    const timer = setTimeout(() => child.kill('SIGKILL'), wrapper.length > 0 ? 300_000 : 15_000)
    await exited
    clearTimeout(timer)
  }

  return { info, ask, stop, pid: child.pid as number }
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
