#!/usr/bin/env node
import { main } from './main.ts'

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }).then(code => {
  process.exitCode = code
})
