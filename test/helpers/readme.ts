import { readFileSync } from 'node:fs'

/** One fenced code block of the README. */
export interface Snippet {
  /** The fence's language: ts, js, json, sh... */
  lang: string
  code: string
  /** The README line of the block's first line of code (1-based). */
  line: number
  /** The name in a `<!-- file: NAME -->` comment right above the block, if any. */
  file?: string
}

export const README = new URL('../../README.md', import.meta.url)

/** Every fenced block of a Markdown text, in order, indented ones (in lists) included. */
export function snippets (markdown: string = readFileSync(README, 'utf8')): Snippet[] {
  const lines = markdown.split('\n')
  const found: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w+)\s*$/.exec(lines[i])
    if (open === null) continue
    const [, indent, lang] = open
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end].trim() !== '```') end++
    const file = /^<!-- file: (\S+) -->$/.exec(lines[i - 1]?.trim() ?? '')?.[1]
    const code = lines.slice(start, end).map(line => line.startsWith(indent) ? line.slice(indent.length) : line).join('\n')
    found.push({ lang, code, line: start + 1, ...(file === undefined ? {} : { file }) })
    i = end
  }
  return found
}

/** The README block marked `<!-- file: NAME -->`. */
export function snippetFile (name: string): Snippet {
  const found = snippets().find(snippet => snippet.file === name)
  if (found === undefined) throw new Error(`README.md has no block marked <!-- file: ${name} -->`)
  return found
}
