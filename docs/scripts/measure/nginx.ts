// nginx for docs/11-running-for-real.md: the recommended configuration for every transport
// (the one the chapter prints and docs/data/nginx.conf holds), the experiments' variants
// of it, and Debian's nginx run as a child process in a folder of its own:
//
//   /usr/sbin/nginx -p TMPDIR -c TMPDIR/nginx.conf -g 'daemon off;'
//
// Every path in the configuration is relative, so nginx resolves it under the -p folder:
// the error log, the pid file and the temporary folders stay there.

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep, stopChild } from './processes.ts'

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx'

export function nginxPresent(): boolean {
  return existsSync(NGINX)
}

/** The part every configuration shares: where nginx keeps its files, under the -p folder. */
const PREAMBLE = `worker_processes 1;
error_log error.log info;
pid nginx.pid;
events { worker_connections 1024; }
`

const TEMP_PATHS = `    access_log access.log;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
`

/** The recommended configuration: every transport through one location. */
export function recommendedHttp(serverPort: number, listenPort: number): string {
  return `    upstream push_wire {
        server 127.0.0.1:${serverPort};
        keepalive 16;                     # reuse connections to the server: needs HTTP/1.1 and no "Connection: close"
    }

    # WebSocket: the Upgrade field goes on, with "Connection: upgrade"; every other request
    # goes with an empty Connection field, so that the upstream connection stays open for the next.
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }

    server {
        listen 127.0.0.1:${listenPort};

        location / {
            proxy_pass http://push_wire;
            proxy_http_version 1.1;       # chunked streams, keep-alive, and the WebSocket upgrade
            proxy_set_header Host $host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 75s;       # longer than any silence the server allows itself:
                                          # heartbeat 15 s, WebSocket ping 30 s, long poll 25 s
            # proxy_buffering stays on for ordinary answers: the streamed ones carry
            # "X-Accel-Buffering: no", which turns it off for them alone.
        }
    }
`
}

/** docs/data/nginx.conf: the recommended configuration in front of `npm start`. */
export function recommendedConf(): string {
  return `# push-wire behind nginx: every transport (short and long polling, HTTP streaming, the
# forever iframe, SSE, WebSocket) through one location. Tested by npm run docs:nginx, which
# runs this configuration (with its own ports) in front of the real server.
#
#   npm start                                   # the server, on 127.0.0.1:8080
#   mkdir -p /tmp/pw-nginx
#   /usr/sbin/nginx -p /tmp/pw-nginx -c "$PWD/docs/data/nginx.conf" -g 'daemon off;'
#   curl -N http://127.0.0.1:8000/sse/news      # through nginx, on 127.0.0.1:8000
#
# Relative paths (logs, pid, temporary files) are under the -p folder.

${PREAMBLE}
http {
${TEMP_PATHS}
${recommendedHttp(8080, 8000)}}
`
}

/**
 * Several server processes behind one nginx, each channel always on the same one: the
 * channel name, taken from the path, picks the server (a consistent hash, so that adding a
 * server moves only some channels). Publishers and subscribers of a channel meet on one
 * process, whose history their cursors refer to.
 */
export function byChannelHttp(serverPorts: number[], pathPrefix = ''): string {
  return `    map $uri $push_channel {
        "~^${pathPrefix}/(?:poll|longpoll|stream|iframe|sse|ws|publish)/(?<name>[^/]+)" $name;
        default "";
    }

    upstream push_wire_by_channel {
        hash $push_channel consistent;
${serverPorts.map((port) => `        server 127.0.0.1:${port};`).join('\n')}
        keepalive 16;
    }
`
}

export interface Upstreams {
  /** The server with the default heartbeat (15 s) and ping (30 s). */
  main: number
  /** The same server with a 1 s heartbeat and ping. */
  beat: number
  /** The relay in front of `main` that counts connections and shows the heads. */
  relay: number
}

/** What `NAME` changes from the recommended location, for the experiments under /x/NAME/. */
export const VARIANTS: Record<string, { upstream: keyof Upstreams | 'relay-keepalive' | 'round-robin' | 'by-channel'; lines: string[]; what: string }> = {
  'ignore-header': {
    upstream: 'main',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'proxy_ignore_headers X-Accel-Buffering;'],
    what: 'proxy buffering on (the default), X-Accel-Buffering ignored',
  },
  'ignore-header-gzip': {
    upstream: 'main',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'proxy_ignore_headers X-Accel-Buffering;', 'gzip on;', 'gzip_types application/x-ndjson text/event-stream;'],
    what: 'proxy buffering on, X-Accel-Buffering ignored, gzip on',
  },
  gzip: {
    upstream: 'main',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'gzip on;', 'gzip_types application/x-ndjson text/event-stream;'],
    what: 'gzip on, X-Accel-Buffering: no honored',
  },
  'buffering-off-gzip': {
    upstream: 'main',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'proxy_ignore_headers X-Accel-Buffering;', 'proxy_buffering off;', 'gzip on;', 'gzip_types application/x-ndjson text/event-stream;'],
    what: 'proxy_buffering off, gzip on',
  },
  'read-timeout': {
    upstream: 'main',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $connection_upgrade;', 'proxy_read_timeout READ_TIMEOUT;'],
    what: 'proxy_read_timeout READ_TIMEOUT, server heartbeat 15 s, ping 30 s',
  },
  'read-timeout-beat': {
    upstream: 'beat',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Upgrade $http_upgrade;', 'proxy_set_header Connection $connection_upgrade;', 'proxy_read_timeout READ_TIMEOUT;'],
    what: 'proxy_read_timeout READ_TIMEOUT, server heartbeat 1 s, ping 1 s',
  },
  'ws-default': { upstream: 'main', lines: [], what: 'proxy_pass alone (nginx speaks HTTP/1.0 upstream)' },
  'ws-http11': { upstream: 'main', lines: ['proxy_http_version 1.1;'], what: 'proxy_http_version 1.1, no Upgrade or Connection fields' },
  http10: { upstream: 'relay', lines: [], what: "nginx's defaults: HTTP/1.0 and Connection: close upstream" },
  'round-robin': {
    upstream: 'round-robin',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'add_header X-Upstream $upstream_addr always;'],
    what: 'two server processes, requests spread in turn (round robin)',
  },
  'by-channel': {
    upstream: 'by-channel',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'add_header X-Upstream $upstream_addr always;'],
    what: 'two server processes, chosen by a hash of the channel name',
  },
  'http11-keepalive': {
    upstream: 'relay-keepalive',
    lines: ['proxy_http_version 1.1;', 'proxy_set_header Connection "";'],
    what: 'HTTP/1.1 upstream with keepalive',
  },
}

/**
 * The recommended location on an HTTP/2 listener (TLS, as browsers speak HTTP/2 only over
 * TLS), with the certificate and key in the -p folder as cert.pem and key.pem.
 */
function http2Server(listenPort: number): string {
  const location = /        location \/ \{[\s\S]*?\n        \}\n/.exec(recommendedHttp(0, 0))![0]
  return `
    server {
        listen 127.0.0.1:${listenPort} ssl http2;
        ssl_certificate cert.pem;
        ssl_certificate_key key.pem;

${location}    }
`
}

/** The configuration the script runs: the recommended server, the variants under /x/NAME/, and an HTTP/2 listener when `http2Port` is given. */
export function experimentConf(upstreams: Upstreams, listenPort: number, readTimeoutS: number, http2Port: number | null = null): string {
  const locations = Object.entries(VARIANTS)
    .map(([name, variant]) => {
      const upstream = {
        main: 'push_wire',
        beat: 'push_wire_beat',
        relay: 'relay',
        'relay-keepalive': 'relay_keepalive',
        'round-robin': 'push_wire_round_robin',
        'by-channel': 'push_wire_by_channel',
      }[variant.upstream]
      const lines = variant.lines.map((line) => `            ${line.replace('READ_TIMEOUT', `${readTimeoutS}s`)}`).join('\n')
      return `        location /x/${name}/ {\n            proxy_pass http://${upstream}/;\n${lines}${lines ? '\n' : ''}        }`
    })
    .join('\n')
  const recommended = recommendedHttp(upstreams.main, listenPort).replace(/\n    }\n$/, '\n')
  return `${PREAMBLE}
http {
${TEMP_PATHS}
    upstream push_wire_beat { server 127.0.0.1:${upstreams.beat}; }
    upstream relay { server 127.0.0.1:${upstreams.relay}; }
    upstream relay_keepalive { server 127.0.0.1:${upstreams.relay}; keepalive 4; }
    upstream push_wire_round_robin { server 127.0.0.1:${upstreams.main}; server 127.0.0.1:${upstreams.beat}; }

${byChannelHttp([upstreams.main, upstreams.beat], '/x/by-channel')}
${recommended}
${locations}
    }
${http2Port === null ? '' : http2Server(http2Port)}}
`
}

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

export class NginxProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly prefix: string,
    readonly port: number,
  ) {}

  /**
   * Writes `conf` (and `files`, such as a certificate, which it names by relative paths)
   * into a new temporary folder and runs nginx on it until it accepts connections on `port`.
   */
  static async start(conf: string, port: number, files: Record<string, string> = {}): Promise<NginxProcess> {
    const prefix = mkdtempSync(join(tmpdir(), 'push-wire-nginx-'))
    writeFileSync(join(prefix, 'nginx.conf'), conf)
    for (const [name, text] of Object.entries(files)) writeFileSync(join(prefix, name), text)
    const child = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const nginx = new NginxProcess(child, prefix, port)
    const deadline = Date.now() + 10_000
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await nginx.stop()
        throw new Error(`nginx did not start: ${stderr}`)
      }
      await sleep(50)
    }
    return nginx
  }

  /** nginx's error log so far. */
  errorLog(): string {
    try {
      return readFileSync(join(this.prefix, 'error.log'), 'utf8')
    } catch {
      return ''
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.child)
    rmSync(this.prefix, { recursive: true, force: true })
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
