/**
 * The API under load (issue 11): a store with 1,000 tasks and 100,000 executions; p99
 * latency of the task list and of an execution page at 200 requests/s (autocannon); then
 * 100 SSE clients in another process, and the delay from each engine progress event of a
 * real run (the demo's CRM → ERP) to every client. Targets: < 50 ms and < 200 ms.
 *
 *   node bench/api.ts [tasks=1000] [executions=100000] [clients=100] [seconds=15]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import Database from 'better-sqlite3'
import { parse } from 'yaml'
import { createRegistry } from '../src/bridges/index.ts'
import { createDemo } from '../src/cli/demo.ts'
import { buildServer } from '../src/server/index.ts'
import { AccessManager } from '../src/service/access/access-manager.ts'
import { EventHub } from '../src/service/event-hub.ts'
import type { HubEvent } from '../src/service/events.ts'
import { openSecretBox } from '../src/service/secrets.ts'
import { Service } from '../src/service/service.ts'
import { TaskManager } from '../src/service/task-manager.ts'
import { openStore } from '../src/store/index.ts'

if (process.argv[2] === '--sse-clients') {
  await sseClients(process.argv[3]!, process.argv[4]!, Number(process.argv[5]))
  process.exit(0)
}

const TASKS = Number(process.argv[2] ?? 1000)
const EXECUTIONS = Number(process.argv[3] ?? 100_000)
const CLIENTS = Number(process.argv[4] ?? 100)
const SECONDS = Number(process.argv[5] ?? 15)

const dir = mkdtempSync(join(tmpdir(), 'osy-bench-api-'))
const file = join(dir, 'opensync.db')
const store = await openStore({ url: file })
const registry = await createRegistry()
const hub = new EventHub()
const tasks = new TaskManager({
  store,
  registry,
  box: await openSecretBox({ dataDir: dir, generate: true }),
  events: hub,
})

// ---------------------------------------------------------------- the store
let t0 = performance.now()
const demo = parse(readFileSync(createDemo(join(dir, 'demo'), 20_000), 'utf8')) as {
  id?: string
  subject: string
  plan?: unknown
}
const demoTask = await tasks.save({ ...demo, plan: { kind: 'manual' } })
for (let i = 1; i < TASKS; i++) {
  await tasks.save({
    ...demo,
    id: `task-${String(i).padStart(4, '0')}`,
    subject: `Task ${i}`,
    plan: { kind: 'interval', every: 15, unit: 'minutes' },
  })
  // Off, so the service runs only the demo task during the SSE part; the list looks the same.
  await tasks.deactivate(`task-${String(i).padStart(4, '0')}`)
}
const raw = new Database(file)
const counts = JSON.stringify({
  addresses: {
    '0->1': {
      read: 20,
      created: 2,
      updated: 3,
      deleted: 0,
      unchanged: 15,
      conflicts: 0,
      errors: 0,
      unlinked: 0,
    },
    '1->0': {
      read: 5,
      created: 0,
      updated: 1,
      deleted: 0,
      unchanged: 4,
      conflicts: 0,
      errors: 0,
      unlinked: 0,
    },
  },
})
const insert =
  raw.prepare(`INSERT INTO osy_executions (task_id, trigger, dry_run, status, started_at, ended_at,
  counts, error_code, error_message, owner, lease_until, scheduled_for, queued_at, cancel_requested)
  VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, 0)`)
const ids = (await store.taskDefs.list()).map((t) => t.taskId)
const start = Date.UTC(2026, 0, 1)
raw.transaction(() => {
  for (let i = 0; i < EXECUTIONS; i++) {
    const failed = i % 17 === 0
    const at = new Date(start + i * 60_000).toISOString()
    const end = new Date(start + i * 60_000 + 4_000).toISOString()
    insert.run(
      ids[i % ids.length],
      i % 5 === 0 ? 'manual' : 'plan',
      failed ? 'failed' : 'succeeded',
      at,
      end,
      counts,
      failed ? 'OSY_UNREACHABLE' : null,
      failed ? 'the system did not answer' : null,
      at,
    )
  }
})()
raw.exec('ANALYZE')
raw.close()
const seeded = (performance.now() - t0) / 1000

// ---------------------------------------------------------------- the server
const access = new AccessManager({ store })
await access.addUser(
  { username: 'bench', password: 'a long bench password 1', role: 'admin' },
  'bench',
)
const { token } = await access.createToken(
  { name: 'bench', username: 'bench', scopes: ['read', 'operate', 'edit', 'admin', 'metrics'] },
  'bench',
)
const app = await buildServer({ store, tasks, registry, metrics: () => '', access, events: hub })
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
const headers = { authorization: `Bearer ${token}` }

async function load(path: string) {
  // A short warm-up, so the first compiles and the cold cache do not count.
  await autocannon({ url: base + path, headers, connections: 5, amount: 50 })
  const r = await autocannon({
    url: base + path,
    headers,
    connections: 10,
    overallRate: 200,
    duration: SECONDS,
  })
  return {
    path,
    requests: r.requests.total,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors,
    bytes: Math.round(r.throughput.average / Math.max(1, r.requests.average)),
  }
}

const firstPage = (await (await fetch(`${base}/api/executions?limit=50`, { headers })).json()) as {
  nextCursor?: string
}
const http = [
  await load('/api/tasks'),
  await load('/api/executions?limit=50'),
  await load(`/api/executions?limit=50&cursor=${firstPage.nextCursor}`),
  await load('/api/executions?task=task-0500&limit=50'),
]

// ---------------------------------------------------------------- SSE fan-out
const child: ChildProcess = spawn(
  process.execPath,
  [import.meta.filename, '--sse-clients', base, token, String(CLIENTS)],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
const lines = createInterface({ input: child.stdout! })
const fromChild = (prefix: string) =>
  new Promise<string>((resolve) => {
    const on = (line: string) => {
      if (!line.startsWith(prefix)) return
      lines.off('line', on)
      resolve(line.slice(prefix.length))
    }
    lines.on('line', on)
  })
await fromChild('ready')
while (hub.subscribers < CLIENTS) await new Promise((resolve) => setTimeout(resolve, 50))
const service = new Service({ store, registry, tasks, events: hub, batchSize: 250, tickMs: 100 })
await service.start()
const { executionId } = await tasks.start(demoTask.id)
t0 = performance.now()
const ended = new Promise<HubEvent>((resolve) => {
  const sub = hub.subscribe((e) => {
    if (e.type === 'execution.ended' && e.executionId === executionId) {
      sub.close()
      resolve(e)
    }
  })
})
const end = await ended
const runSeconds = (performance.now() - t0) / 1000
const report = JSON.parse(await fromChild('result ')) as {
  clients: number
  events: number
  delivered: number
  p50: number
  p99: number
  max: number
}
await service.stop()
child.kill()
await app.close()
await store.close()
rmSync(dir, { recursive: true, force: true })

console.log(
  JSON.stringify(
    {
      store: 'sqlite',
      loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
      tasks: TASKS,
      executions: EXECUTIONS,
      seededSeconds: Number(seeded.toFixed(1)),
      http,
      sse: {
        ...report,
        run: end.type === 'execution.ended' ? end.status : '?',
        runSeconds: Number(runSeconds.toFixed(1)),
      },
    },
    null,
    2,
  ),
)

/**
 * The SSE clients (a process of their own, so they do not share the server's event loop):
 * `clients` streams; for each execution.progress event, the delay from its `at` (when the
 * engine reported it) to its arrival on each stream. Prints `ready`, then `result {json}`
 * once an execution.ended arrived on every stream.
 */
async function sseClients(url: string, bearer: string, clients: number): Promise<void> {
  const delays: number[] = []
  let events = 0
  let endedOn = 0
  const done = new Promise<void>((resolve) => {
    const streams = Array.from({ length: clients }, async () => {
      const res = await fetch(`${url}/api/events`, {
        headers: { authorization: `Bearer ${bearer}` },
      })
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
      let text = ''
      for (;;) {
        const { value, done: over } = await reader.read()
        if (over) return
        text += value
        let cut = text.indexOf('\n\n')
        while (cut >= 0) {
          const block = text.slice(0, cut)
          text = text.slice(cut + 2)
          cut = text.indexOf('\n\n')
          const data = block.split('\n').find((l) => l.startsWith('data: '))
          if (!data) continue
          const event = JSON.parse(data.slice(6)) as HubEvent
          if (event.type === 'execution.progress') {
            delays.push(Date.now() - Date.parse(event.at))
            events++
          } else if (event.type === 'execution.ended') {
            if (++endedOn === clients) resolve()
            await reader.cancel()
            return
          }
        }
      }
    })
    void Promise.all(streams)
  })
  // Every stream is open once the server counts them; a short pause is enough on one host.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  console.log('ready')
  await done
  delays.sort((a, b) => a - b)
  const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] ?? 0
  console.log(
    `result ${JSON.stringify({
      clients,
      events: events / clients,
      delivered: delays.length,
      p50: at(0.5),
      p99: at(0.99),
      max: delays.at(-1) ?? 0,
    })}`,
  )
}
