/**
 * nginx (Debian's package) as the soak's load balancer, configured as a partner would put it in
 * front of several instances: round robin, X-Forwarded-For appended, a POST never replayed on
 * another instance once it was sent. It runs in the foreground from a temporary directory (its
 * own pid file, logs and temp paths), so nothing of the system's nginx is used or left behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Nginx {
  url: string
  /** The address nginx connects to the instances from: the one to trust for X-Forwarded-For. */
  address: string
  stop: () => Promise<void>
}

/** The nginx binary, or null (with the command that installs it). */
export function findNginx (): string | null {
  for (const candidate of [process.env.NGINX, 'nginx', '/usr/sbin/nginx']) {
    if (candidate !== undefined && spawnSync(candidate, ['-v']).status === 0) return candidate
  }
  return null
}

function config (dir: string, port: number, upstreams: number[]): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream plugin {
${upstreams.map(p => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://plugin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # Appended to whatever the client sent: the instances trust only this hop (trustProxy).
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # The default: only a connection that failed before the request was sent moves to the next
      # instance; nginx never resends a POST that reached one (non_idempotent is not set).
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
      proxy_read_timeout 30s;
    }
  }
}
`
}

async function listening (port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode})`)
    const up = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (up) return
    await sleep(50)
  }
  throw new Error('nginx did not start listening')
}

export async function startNginx (binary: string, port: number, upstreams: number[]): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'soak-nginx-'))
  // Workers run as nobody when the master is root: they must reach the temp paths.
  chmodSync(dir, 0o755)
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, config(dir, port, upstreams))
  const check = spawnSync(binary, ['-p', dir, '-c', file, '-e', join(dir, 'error.log'), '-t'], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`nginx -t: ${check.stderr}`)
  const child = spawn(binary, ['-p', dir, '-c', file, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' })
  await listening(port, child)
  return {
    url: `http://127.0.0.1:${port}`,
    address: '127.0.0.1',
    async stop () {
      if (child.exitCode === null) {
        const exited = new Promise(resolve => child.once('exit', resolve))
        child.kill('SIGQUIT')
        // A graceful stop waits for idle keep-alive connections to close: not for long.
        const timer = setTimeout(() => child.kill('SIGTERM'), 3000)
        await exited
        clearTimeout(timer)
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
    }
  }
}
