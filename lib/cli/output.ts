import type { Output } from './progress.ts'

/** The part of a process stream the doctor writes to. */
export interface ProcessStream {
  write: (text: string) => unknown
  isTTY?: boolean
  on: (event: 'error', listener: (err: NodeJS.ErrnoException) => void) => unknown
}

/**
 * A process stream whose reader may go away (`doctor … | head`): EPIPE ends that stream's output,
 * quietly, and the checks go on to their own exit code. Any other write error is thrown, as Node
 * does by default.
 */
export function untilClosed (stream: ProcessStream): Output {
  let open = true
  stream.on('error', err => {
    if (err.code !== 'EPIPE') throw err
    open = false
  })
  return {
    isTTY: stream.isTTY,
    write: (text) => open && stream.write(text)
  }
}
