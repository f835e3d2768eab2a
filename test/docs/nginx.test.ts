// docs/scripts/nginx.ts in its quick mode: Debian's nginx in front of the real server, and
// the verdicts chapter 11 states, each computed by the script from what it measured. The
// script runs in a child process and writes its JSON to a temporary file, not docs/data/.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { run } from '../helpers/commands.ts'

const REPO = fileURLToPath(new URL('../..', import.meta.url))
const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx'

interface Findings {
  nginx: string
  recommended: { transport: string; messages: number; direct: { delivered: number }; nginx: { delivered: number } }[]
  buffering: { setup: string; route: string; firstMessageMs: number | null; arrived: number; headMs: number | null }[]
  readTimeout: { results: { setup: string; route: string; closedAfterMs: number | null; lastChunk: boolean }[]; errorLogLines: string[] }
  upgrades: { setup: string; status: number }[]
  http10: { upstreamRequest: string; upstreamResponse: string; polls: number; http10Connections: number; keepAliveConnections: number }
  spreading: { setup: string; delivered: number; channels: number }[]
  verdicts: Record<string, boolean>
}

if (!existsSync(NGINX)) {
  console.log(`docs: nginx tests skipped: ${NGINX} not found (apt-get install nginx)`)
} else {
  const test = suite<{ findings: Findings }>('docs: push-wire behind nginx (nginx.ts --quick)', {} as { findings: Findings })

  test.before(async (context) => {
    const dir = mkdtempSync(join(tmpdir(), 'push-wire-nginx-test-'))
    try {
      const file = join(dir, 'nginx.json')
      const ran = await run(process.execPath, ['--import', 'tsx', join(REPO, 'docs/scripts/nginx.ts'), '--quick', '--json', file, '--no-chapter'], 90_000)
      // Exit 1 means a verdict did not hold: the JSON is written all the same, and the tests below say which.
      assert.ok(existsSync(file), `nginx.ts wrote nothing (exit ${ran.code}): ${ran.stderr}`)
      context.findings = JSON.parse(readFileSync(file, 'utf8')) as Findings
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('it ran Debian nginx, and all six transports delivered every message through the recommended configuration', ({ findings }) => {
    assert.match(findings.nginx, /^nginx\/\d+\.\d+/)
    assert.is(findings.recommended.length, 6)
    for (const row of findings.recommended) {
      assert.is(row.direct.delivered, row.messages, `${row.transport} direct`)
      assert.is(row.nginx.delivered, row.messages, `${row.transport} through nginx`)
    }
  })

  test('buffering: gzip with buffering holds every message; X-Accel-Buffering: no lets each through', ({ findings }) => {
    const held = findings.buffering.filter((b) => b.setup === 'ignore-header-gzip')
    assert.is(held.length, 2)
    for (const b of held) assert.is(b.arrived, 0, `${b.route} through buffering and gzip`)
    for (const b of findings.buffering.filter((x) => x.setup === 'recommended' || x.setup === 'direct')) {
      assert.is(b.arrived, 3, `${b.setup} ${b.route}`)
      assert.ok(b.firstMessageMs !== null, `${b.setup} ${b.route}`)
    }
    assert.ok(findings.verdicts.honoredHeaderStreamsAtOnce && findings.verdicts.gzipWithHeaderHonoredStreams && findings.verdicts.bufferingOffWithGzipStreams)
  })

  test('proxy_read_timeout cuts a silent stream without its last chunk; a heartbeat keeps it open', ({ findings }) => {
    const cut = findings.readTimeout.results.filter((r) => r.setup === 'read-timeout')
    const kept = findings.readTimeout.results.filter((r) => r.setup === 'read-timeout-beat')
    assert.equal(cut.map((r) => r.route).sort(), ['sse', 'stream', 'ws'])
    for (const r of cut) {
      assert.ok(r.closedAfterMs !== null, `${r.route} was not cut`)
      assert.not.ok(r.lastChunk, r.route)
    }
    for (const r of kept) assert.is(r.closedAfterMs, null, `${r.route} was cut despite its heartbeat`)
    assert.ok(findings.readTimeout.errorLogLines.some((line) => line.includes('upstream timed out')))
    assert.ok(findings.verdicts.readTimeoutCutsIdleStreams && findings.verdicts.heartbeatKeepsStreamsOpen)
  })

  test('WebSocket through nginx: 400 without HTTP/1.1 and the upgrade fields, 101 with them', ({ findings }) => {
    const status = Object.fromEntries(findings.upgrades.map((u) => [u.setup, u.status]))
    assert.equal(status, { 'ws-default': 400, 'ws-http11': 400, recommended: 101 })
  })

  test('HTTP/1.0 upstream: no chunks from the server, and a connection per request', ({ findings }) => {
    assert.match(findings.http10.upstreamRequest, /^GET \/stream\/old HTTP\/1\.0/)
    assert.match(findings.http10.upstreamRequest, /Connection: close/i)
    assert.not.match(findings.http10.upstreamResponse, /chunked/i)
    assert.is(findings.http10.http10Connections, findings.http10.polls)
    assert.is(findings.http10.keepAliveConnections, 1)
  })

  test('two processes: round robin separates publishers from subscribers; a hash of the channel does not', ({ findings }) => {
    const [roundRobin, byChannel] = ['round-robin', 'by-channel'].map((setup) => findings.spreading.find((s) => s.setup === setup)!)
    assert.ok(roundRobin.delivered < roundRobin.channels)
    assert.is(byChannel.delivered, byChannel.channels)
  })

  test('every verdict the chapter states holds', ({ findings }) => {
    const failed = Object.entries(findings.verdicts).filter(([, holds]) => !holds)
    assert.equal(failed, [])
  })

  test('docs/11-running-for-real.md shows the configuration the script tests, and its findings', async () => {
    const { recommendedConf } = await import('../../docs/scripts/measure/nginx.ts')
    const chapter = readFileSync(join(REPO, 'docs/11-running-for-real.md'), 'utf8')
    assert.ok(chapter.includes(`<!-- nginx-conf:begin -->\n\`\`\`nginx\n${recommendedConf()}\`\`\`\n<!-- nginx-conf:end -->`), 'the chapter shows another configuration: npm run docs:nginx')
    assert.is(readFileSync(join(REPO, 'docs/data/nginx.conf'), 'utf8'), recommendedConf())
    const findings = /<!-- nginx:begin -->([\s\S]*?)<!-- nginx:end -->/.exec(chapter)?.[1] ?? ''
    assert.match(findings, /by `npm run docs:nginx`/)
    assert.not.match(findings, /does not hold/)
  })

  test.run()
}
