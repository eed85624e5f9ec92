/**
 * Run before the tests (`npm test`, `npm run test:unit`): the suite starts its own redis-server
 * (Debian's package) on a free loopback port, so stop at once, with the command that installs it,
 * when it is not there. REDIS_SERVER names another binary.
 */
import { spawnSync } from 'node:child_process'

const binary = process.env.REDIS_SERVER ?? 'redis-server'
const found = spawnSync(binary, ['--version'], { encoding: 'utf8' })
if (found.error !== undefined || found.status !== 0) {
  console.error(`The tests need ${binary} (they start their own, on a free loopback port, with no persistence), and it was not found.
Install it (Debian/Ubuntu):  sudo apt-get install -y redis-server
or point REDIS_SERVER at another redis-server binary (Redis 4.0 or later).`)
  process.exit(1)
}
