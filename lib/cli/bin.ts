#!/usr/bin/env node
import { main } from './main.ts'
import { untilClosed } from './output.ts'

main(process.argv.slice(2), { stdout: untilClosed(process.stdout), stderr: untilClosed(process.stderr), cwd: process.cwd() }).then(code => {
  process.exitCode = code
})
