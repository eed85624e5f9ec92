/** The child side of the bench's IPC: announce readiness, answer the orchestrator's commands, exit when told. */

type Handler = () => Record<string, unknown> | Promise<Record<string, unknown>>

interface Command { cmd: string }

export function serveCommands (ready: Record<string, unknown>, handlers: Record<string, Handler>, close: () => Promise<void>): void {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('bench children talk to bench/run.ts over IPC: start them from there')
  process.on('message', async (message: Command) => {
    if (message.cmd === 'exit') {
      await close()
      // process.exit (not a signal) so that --cpu-prof writes its profile.
      process.exit(0)
    }
    const handler = handlers[message.cmd]
    if (handler === undefined) throw new Error(`unknown bench command ${message.cmd}`)
    send({ reply: message.cmd, ...await handler() })
  })
  // An orphan (the orchestrator died) never lingers.
  process.on('disconnect', () => process.exit(1))
  send({ reply: 'ready', pid: process.pid, ...ready })
}

/**
 * The server-under-test probe: CPU time spent since the last `probe-start`, memory now, and the
 * monotonic clock in µs (the clock of --cpu-prof's sample timestamps, to cut the measured window).
 */
export function serverProbe (): Record<string, Handler> {
  let started = process.cpuUsage()
  const now = () => Number(process.hrtime.bigint() / 1000n)
  return {
    'probe-start': () => {
      started = process.cpuUsage()
      return { clockMicros: now() }
    },
    'probe-stop': () => {
      const cpu = process.cpuUsage(started)
      const memory = process.memoryUsage()
      return { cpuMicros: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed, clockMicros: now() }
    }
  }
}
