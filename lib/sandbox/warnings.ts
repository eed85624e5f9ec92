/**
 * A sandbox mistake that the simulated PSP answers as the real one would, with an error whose code
 * alone (all the plugin reports) does not say what to change: a process warning names the fix, once
 * per simulator and cause.
 */
export function createMistakeWarner (simulator: string) {
  const warned = new Set<string>()
  return (cause: string, message: string): void => {
    if (warned.has(cause)) return
    warned.add(cause)
    process.emitWarning(`${simulator}: ${message}`, { code: 'ROKT_SANDBOX_MISTAKE' })
  }
}
