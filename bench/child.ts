import { GCProfiler, getHeapSpaceStatistics } from 'node:v8'
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
 * The server-under-test probe: CPU time spent since the last `probe-start`, memory after a full
 * GC when the process runs with --expose-gc (what is retained, not what awaits collection), and the
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
      const clockMicros = now()
      ;(globalThis as { gc?: () => void }).gc?.()
      const memory = process.memoryUsage()
      return { cpuMicros: cpu.user + cpu.system, rss: memory.rss, heapUsed: memory.heapUsed, clockMicros }
    },
    ...youngGcProbe()
  }
}

/**
 * `gc-start` / `gc-stop`: V8's GC profiler over the span between them: young-generation GCs
 * (scavenges), full GCs, the bytes allocated in the young generation and those promoted out of it
 * (the old generation's growth across each scavenge).
 */
function youngGcProbe (): Record<string, Handler> {
  let profiler: GCProfiler | undefined
  let youngAtStart = 0
  const young = (spaces: Heap) => used(spaces, 'new_space') + used(spaces, 'new_large_object_space')
  return {
    'gc-start': () => {
      youngAtStart = young(getHeapSpaceStatistics())
      profiler = new GCProfiler()
      profiler.start()
      return {}
    },
    'gc-stop': () => {
      const { statistics } = profiler?.stop() as unknown as { statistics: GcStatistic[] }
      const old = (spaces: Heap) => used(spaces, 'old_space') + used(spaces, 'large_object_space')
      let allocated = 0
      let promoted = 0
      let youngAfter = youngAtStart
      for (const gc of statistics) {
        allocated += young(gc.beforeGC.heapSpaceStatistics) - youngAfter
        youngAfter = young(gc.afterGC.heapSpaceStatistics)
        if (gc.gcType === 'Scavenge') promoted += old(gc.afterGC.heapSpaceStatistics) - old(gc.beforeGC.heapSpaceStatistics)
      }
      allocated += young(getHeapSpaceStatistics()) - youngAfter
      return { scavenges: statistics.filter(gc => gc.gcType === 'Scavenge').length, fullGcs: statistics.filter(gc => gc.gcType !== 'Scavenge').length, allocated, promoted }
    }
  }
}

type Heap = Array<{ space_name?: string, spaceName?: string, space_used_size?: number, spaceUsedSize?: number }>
interface GcStatistic { gcType: string, beforeGC: { heapSpaceStatistics: Heap }, afterGC: { heapSpaceStatistics: Heap } }

/** A space's used bytes, in either spelling (getHeapSpaceStatistics: snake case; the GC profiler: camel case). */
function used (spaces: Heap, name: string): number {
  const space = spaces.find(s => (s.spaceName ?? s.space_name) === name)
  return space?.spaceUsedSize ?? space?.space_used_size ?? 0
}
