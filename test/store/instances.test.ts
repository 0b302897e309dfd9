import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.ts'
import { dialects, type Target } from './store-targets.ts'

// Migration 0005: the registry of running service processes (issue 10, item 14).
describe.each(dialects)('instance registry on $name', (dialect) => {
  let target: Target
  let store: Store
  beforeAll(async () => {
    target = await dialect.setup()
    store = await openStore(target.options)
  })
  afterAll(async () => {
    await store?.close()
    await target?.teardown()
  })
  const info = (pid: number) => ({ host: 'h1', pid, version: '0.1.0', role: 'service' })
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

  it('registers, lists, heartbeats and removes a process', async () => {
    const a = await store.instances.register(info(101))
    const b = await store.instances.register({ ...info(102), role: 'worker' })
    const listed = await store.instances.list()
    expect(listed.map((i) => [i.id, i.pid, i.role])).toEqual([
      [a, 101, 'service'],
      [b, 102, 'worker'],
    ])
    expect(listed[0]).toMatchObject({ host: 'h1', version: '0.1.0' })
    expect(listed[0]!.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const before = listed[0]!.heartbeatAt
    await sleep(20)
    expect(await store.instances.heartbeat(a)).toBe(true)
    const after = (await store.instances.list()).find((i) => i.id === a)!.heartbeatAt
    expect(after > before).toBe(true)
    await store.instances.remove(a)
    await store.instances.remove(b)
    expect(await store.instances.list()).toEqual([])
    expect(await store.instances.heartbeat(a)).toBe(false)
  })

  it('a process that stops heartbeating expires, and is swept after ten windows', async () => {
    const stale = await store.instances.register(info(201))
    await sleep(1500)
    const fresh = await store.instances.register(info(202))
    const alive = await store.instances.list({ aliveWithinMs: 1000 })
    expect(alive.map((i) => i.id)).toEqual([fresh])
    // Still there for a longer window…
    expect((await store.instances.list({ aliveWithinMs: 10_000 })).map((i) => i.id)).toEqual([
      stale,
      fresh,
    ])
    // …until a list with a window ten times shorter than its silence sweeps it.
    await store.instances.list({ aliveWithinMs: 100 })
    expect(await store.instances.heartbeat(stale)).toBe(false)
    expect(await store.instances.heartbeat(fresh)).toBe(true)
    await store.instances.remove(fresh)
  })
})
