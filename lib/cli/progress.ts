const FRAMES = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'

export interface Output {
  write: (text: string) => unknown
  isTTY?: boolean
}

/**
 * Runs `task` under a spinner on `stream` while it is pending, only when `stream` is a terminal
 * (never in CI logs or pipes), and clears the spinner line when it settles.
 */
export async function withSpinner<T> (stream: Output, label: string, task: () => Promise<T>): Promise<T> {
  if (stream.isTTY !== true) return await task()
  let frame = 0
  const draw = () => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`)
  draw()
  const timer = setInterval(draw, 80)
  timer.unref()
  try {
    return await task()
  } finally {
    clearInterval(timer)
    stream.write('\r\x1b[2K')
  }
}
