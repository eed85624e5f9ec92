import { mkdirSync, rmSync } from 'node:fs'
import { LOG_CAPTURE_DIR } from '../helpers/secrets.ts'

// tap's `before`: start each run with no captured log lines (see scan-suite-logs.ts).
rmSync(LOG_CAPTURE_DIR, { recursive: true, force: true })
mkdirSync(LOG_CAPTURE_DIR, { recursive: true })
