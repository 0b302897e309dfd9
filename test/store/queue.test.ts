import { randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import { Migrator } from 'kysely/migration'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type ExecutionRow,
  openStore,
  type Store,
  type TaskDefInput,
} from '../../src/store/index.ts'
import {
  MIGRATION_LOCK_TABLE,
  MIGRATION_TABLE,
  migrateRetrying,
  migrationProvider,
} from '../../src/store/migration-provider.ts'
import { dialects, Recorder, type Target } from './store-targets.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let nextTask = 0
const newTask = () => `task-${++nextTask}-${randomBytes(3).toString('hex')}`

function definition(taskId: string, overrides: Partial<TaskDefInput> = {}): TaskDefInput {
  return {
    taskId,
    subject: `Subject of ${taskId}`,
    document: JSON.stringify({ id: taskId, pairs: [] }),
    draft: false,
    active: true,
    ...overrides,
  }
}

/** What a promise rejected with (fails the test when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Error & Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

describe.each(dialects)('run queue on $name', (dialect) => {
  let target: Target
  let store: Store
  /** A second store on the same database: another process, as far as the store can tell. */
  let other: Store
  const recorder = new Recorder()

  beforeAll(async () => {
    target = await dialect.setup()
    store = await openStore({ ...target.options, log: recorder.log })
    other = await openStore(target.options)
  })

  afterAll(async () => {
    await other?.close()
    await store?.close()
    await target?.teardown()
  })

  // Claims take the oldest queued run of any task, and `due` and `list` see every task: each
  // test starts with an empty queue and no task definitions. (One schema for the file, not
  // one per test: Kysely's migrator reads the catalogue of every schema in the database, and
  // fails when another test file drops one at that moment.)
  afterEach(async () => {
    const at = new Date().toISOString()
    await target.query(
      `update osy_executions set status = 'cancelled', ended_at = '${at}' where status in ('queued', 'running')`,
    )
    await target.query('delete from osy_task_defs')
  })

  /** The plan of every statement `call` sends, one string per statement. */
  async function plans(call: () => Promise<unknown>): Promise<string[]> {
    const { statements } = await recorder.during(call)
    const queries = statements.filter((s) =>
      /^\s*(select|insert|update|delete|with)\b/i.test(s.sql),
    )
    expect(queries.length).toBeGreaterThan(0)
    const out: string[] = []
    for (const statement of queries) {
      out.push(`${statement.sql}\n${(await target.explain(statement)).join('\n')}`)
    }
    return out
  }

  describe('task definitions', () => {
    it('inserts at revision 1, counts revisions up, and refuses a stale revision', async () => {
      const taskId = newTask()
      expect(await store.taskDefs.get(taskId)).toBeUndefined()
      const first = await store.taskDefs.put(definition(taskId, { draft: true, active: false }))
      expect(first).toMatchObject({
        taskId,
        subject: `Subject of ${taskId}`,
        draft: true,
        active: false,
        idleRuns: 0,
        revision: 1,
      })
      expect(first.nextRunAt).toBeUndefined()
      expect(first.updatedAt).toBe(first.createdAt)
      expect(await store.taskDefs.get(taskId)).toEqual(first)

      await sleep(5)
      const second = await store.taskDefs.put(definition(taskId, { document: '{"v":2}' }))
      expect(second).toMatchObject({ revision: 2, draft: false, active: true, document: '{"v":2}' })
      expect(second.createdAt).toBe(first.createdAt)
      expect(second.updatedAt > first.updatedAt).toBe(true)

      const third = await store.taskDefs.put(definition(taskId, { subject: 'Renamed' }), 2)
      expect(third).toMatchObject({ revision: 3, subject: 'Renamed' })

      // An editor that loaded revision 2 saves after someone else saved revision 3.
      const stale = await rejection(store.taskDefs.put(definition(taskId, { subject: 'Mine' }), 2))
      expect(stale).toMatchObject({
        code: 'OSY_REVISION_CONFLICT',
        details: { taskId, expectedRevision: 2, revision: 3 },
      })
      expect(stale.message).toContain('revision 3')
      expect(await store.taskDefs.get(taskId)).toMatchObject({ subject: 'Renamed', revision: 3 })

      // 0: "create it"; a taken id conflicts, a free one is created.
      await expect(store.taskDefs.put(definition(taskId), 0)).rejects.toMatchObject({
        code: 'OSY_REVISION_CONFLICT',
      })
      const created = newTask()
      expect(await store.taskDefs.put(definition(created), 0)).toMatchObject({ revision: 1 })
      // A revision of a task that is gone: it was deleted meanwhile.
      await expect(store.taskDefs.put(definition(newTask()), 4)).rejects.toMatchObject({
        code: 'OSY_TASK_NOT_FOUND',
      })
    })

    it('lets only one of two saves of the same revision win', async () => {
      const taskId = newTask()
      await store.taskDefs.put(definition(taskId))
      const outcomes = await Promise.allSettled([
        store.taskDefs.put(definition(taskId, { subject: 'A' }), 1),
        other.taskDefs.put(definition(taskId, { subject: 'B' }), 1),
      ])
      expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected'])
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult
      expect(lost.reason).toMatchObject({ code: 'OSY_REVISION_CONFLICT' })
      expect(await store.taskDefs.get(taskId)).toMatchObject({ revision: 2 })
    })

    it('toggles the plan as a revision, keeps the schedule apart, lists and removes', async () => {
      const [b, a, c] = [newTask(), newTask(), newTask()]
      await store.taskDefs.put(definition(b, { subject: 'beta' }))
      await store.taskDefs.put(definition(a, { subject: 'Alpha' }))
      await store.taskDefs.put(definition(c, { subject: 'alpha' }))
      // ASCII case does not split the list; ties go by subject bytes, then id.
      expect((await store.taskDefs.list()).map((t) => t.taskId)).toEqual([a, c, b])

      await store.taskDefs.setActive(a, false)
      expect(await store.taskDefs.get(a)).toMatchObject({ active: false, revision: 2 })
      await expect(store.taskDefs.setActive(newTask(), true)).rejects.toMatchObject({
        code: 'OSY_TASK_NOT_FOUND',
      })

      const at = '2030-01-01T08:00:00.000Z'
      expect(
        await store.taskDefs.setSchedule(a, { nextRunAt: at, lastScheduledFor: at, idleRuns: 3 }),
      ).toBe(true)
      // Absent fields are kept, null clears; the schedule is not a revision.
      await store.taskDefs.setSchedule(a, { nextRunAt: null })
      expect(await store.taskDefs.get(a)).toMatchObject({
        lastScheduledFor: at,
        idleRuns: 3,
        revision: 2,
      })
      expect((await store.taskDefs.get(a))?.nextRunAt).toBeUndefined()
      await store.taskDefs.setSchedule(a, { nextRunAt: at, lastScheduledFor: null })
      expect((await store.taskDefs.get(a))?.lastScheduledFor).toBeUndefined()
      // A save changes the definition and leaves the schedule alone.
      expect(await store.taskDefs.put(definition(a, { subject: 'Alpha 2' }))).toMatchObject({
        nextRunAt: at,
        idleRuns: 3,
        revision: 3,
      })
      expect(await store.taskDefs.setSchedule(newTask(), { nextRunAt: at })).toBe(false)

      expect(await store.taskDefs.remove(b)).toBe(true)
      expect(await store.taskDefs.remove(b)).toBe(false)
      expect((await store.taskDefs.list()).map((t) => t.taskId)).toEqual([c, a])
    })

    it('lists due plans, the longest due first, from an index on next_run_at', async () => {
      const now = '2030-06-01T12:00:00.000Z'
      const tasks = {
        late: { next: '2030-06-01T11:00:00.000Z' },
        later: { next: '2030-06-01T11:30:00.000Z' },
        exactlyNow: { next: now },
        future: { next: '2030-06-01T12:00:00.001Z' },
        unplanned: { next: null },
        inactive: { next: '2030-06-01T10:00:00.000Z', active: false },
        draft: { next: '2030-06-01T10:00:00.000Z', draft: true },
      }
      const ids: Record<string, string> = {}
      for (const [name, t] of Object.entries(tasks)) {
        const taskId = `${name}-${newTask()}`
        ids[name] = taskId
        await store.taskDefs.put(
          definition(taskId, {
            active: 'active' in t ? t.active : true,
            draft: 'draft' in t ? t.draft : false,
          }),
        )
        await store.taskDefs.setSchedule(taskId, { nextRunAt: t.next })
      }
      expect((await store.taskDefs.due(now)).map((t) => t.taskId)).toEqual([
        ids.late,
        ids.later,
        ids.exactlyNow,
      ])
      expect((await store.taskDefs.due(now, 1)).map((t) => t.taskId)).toEqual([ids.late])
      expect(await store.taskDefs.due('2030-01-01T00:00:00.000Z')).toEqual([])

      const [plan] = await plans(() => store.taskDefs.due(now))
      expect(plan).toMatch(/osy_task_defs_due/)
      expect(plan).not.toMatch(dialect.name === 'sqlite' ? /\bSCAN osy_task_defs\b/ : /Seq Scan/)
    })
  })

  describe('queue', () => {
    it('queues one run per task: a second enqueue returns the first', async () => {
      const taskId = newTask()
      const slot = '2030-06-01T12:00:00.000Z'
      const first = await store.executions.enqueue({ taskId, trigger: 'plan', scheduledFor: slot })
      expect(first.created).toBe(true)
      const second = await other.executions.enqueue({ taskId, trigger: 'manual' })
      expect(second).toEqual({ id: first.id, created: false })

      const queued = await store.executions.queued(taskId)
      expect(queued).toMatchObject({
        id: first.id,
        taskId,
        status: 'queued',
        trigger: 'plan',
        scheduledFor: slot,
        cancelRequested: false,
        dryRun: false,
      })
      expect(queued?.queuedAt).toBeDefined()
      expect(queued?.owner).toBeUndefined()
      expect(await store.executions.running(taskId)).toBeUndefined()
      expect((await store.executions.list(taskId)).map((e) => e.id)).toEqual([first.id])

      // Racing enqueues of one task, from two stores, still make one.
      const racing = newTask()
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? store : other).executions.enqueue({ taskId: racing, trigger: 'manual' }),
        ),
      )
      expect(new Set(results.map((r) => r.id)).size).toBe(1)
      expect(results.filter((r) => r.created)).toHaveLength(1)
    })

    it('claims the oldest queued run whose task is not running, and queues behind a running one', async () => {
      const [busy, idle] = [newTask(), newTask()]
      await store.executions.begin({
        taskId: busy,
        trigger: 'cli',
        dryRun: false,
        owner: 'cli-1',
        leaseMs: 60_000,
      })
      const behind = await store.executions.enqueue({ taskId: busy, trigger: 'manual' })
      const next = await store.executions.enqueue({ taskId: idle, trigger: 'plan' })

      const claimed = await other.executions.claim('worker-a', 30_000)
      expect(claimed).toMatchObject({
        id: next.id,
        taskId: idle,
        status: 'running',
        owner: 'worker-a',
        trigger: 'plan',
      })
      expect(claimed!.leaseUntil! > claimed!.startedAt).toBe(true)
      expect(Date.parse(claimed!.leaseUntil!) - Date.parse(claimed!.startedAt)).toBeCloseTo(
        30_000,
        -2,
      )
      expect(claimed!.startedAt >= claimed!.queuedAt!).toBe(true)
      // The other task runs, so its queued run waits.
      expect(await other.executions.claim('worker-a', 30_000)).toBeUndefined()

      const running = await store.executions.running(busy)
      await store.executions.finish(running!.id, { status: 'succeeded', counts: {} })
      expect(await store.executions.claim('worker-b', 30_000)).toMatchObject({
        id: behind.id,
        owner: 'worker-b',
      })
      expect(await store.executions.queued(busy)).toBeUndefined()
      expect(await store.executions.claim('worker-b', 30_000)).toBeUndefined()
    })

    it('serves claims, expiry and the running/queued lookups from the partial indexes', async () => {
      for (let i = 0; i < 3; i++) {
        const taskId = newTask()
        await store.executions.start({ taskId, trigger: 'cli', dryRun: false })
        await store.executions.enqueue({ taskId, trigger: 'manual' })
      }
      const taskId = newTask()
      await store.executions.enqueue({ taskId, trigger: 'manual' })
      const checks: [string, () => Promise<unknown>, RegExp[]][] = [
        [
          'claim',
          () => store.executions.claim('w', 1000),
          [/osy_executions_one_queued/, /osy_executions_one_running/],
        ],
        ['expire', () => store.executions.expire(), [/osy_executions_one_running/]],
        ['running', () => store.executions.running(taskId), [/osy_executions_one_running/]],
        ['queued', () => store.executions.queued(taskId), [/osy_executions_one_queued/]],
      ]
      for (const [name, call, expected] of checks) {
        const plan = (await plans(call)).join('\n\n')
        for (const pattern of expected) expect(plan, name).toMatch(pattern)
        // SQLite may read a partial index whole (it is the queue), never the table.
        expect(plan, name).not.toMatch(
          dialect.name === 'sqlite' ? /\bSCAN (osy_executions|q|r)$/m : /Seq Scan/,
        )
      }
    })

    it('never runs a task twice while two stores race their claims over 20 runs of 5 tasks', async () => {
      const tasks = Array.from({ length: 5 }, () => newTask())
      const runsPerTask = 4
      const queuedSoFar = new Map(tasks.map((t) => [t, 1]))
      for (const taskId of tasks) await store.executions.enqueue({ taskId, trigger: 'plan' })

      const held = new Map<string, string>()
      const violations: string[] = []
      const claimedIds: number[] = []
      let finished = 0
      const total = tasks.length * runsPerTask

      // Three workers per store; each claims, queues the task's next run while it still runs
      // (so the other claims must skip it), works a little, and finishes.
      const worker = async (s: Store, name: string) => {
        while (finished < total) {
          const execution = await s.executions.claim(name, 60_000)
          if (execution === undefined) {
            await sleep(1)
            continue
          }
          claimedIds.push(execution.id)
          const holder = held.get(execution.taskId)
          if (holder !== undefined) violations.push(`${execution.taskId}: ${holder} and ${name}`)
          held.set(execution.taskId, name)
          const queued = queuedSoFar.get(execution.taskId)!
          if (queued < runsPerTask) {
            queuedSoFar.set(execution.taskId, queued + 1)
            await s.executions.enqueue({ taskId: execution.taskId, trigger: 'plan' })
          }
          await sleep(5 + Math.random() * 5)
          held.delete(execution.taskId)
          await s.executions.finish(execution.id, { status: 'succeeded', counts: {}, owner: name })
          finished++
        }
      }
      await Promise.all(
        [store, other].flatMap((s, i) => [0, 1, 2].map((w) => worker(s, `store${i}-w${w}`))),
      )

      expect(violations).toEqual([])
      expect(claimedIds).toHaveLength(total)
      expect(new Set(claimedIds).size).toBe(total)
      for (const taskId of tasks) {
        const runs = await store.executions.list(taskId, 100)
        expect(runs.map((r) => r.status)).toEqual(Array(runsPerTask).fill('succeeded'))
      }
    })

    it.runIf(dialect.name === 'postgres')(
      'moves on when the task of its candidate starts in another process meanwhile',
      async () => {
        const [collides, free] = [newTask(), newTask()]
        const blocked = await store.executions.enqueue({ taskId: collides, trigger: 'plan' })
        const next = await store.executions.enqueue({ taskId: free, trigger: 'plan' })
        // Another process starts the first task in a transaction the claim cannot see yet.
        await target.query('begin')
        await target.query(
          `insert into osy_executions (task_id, trigger, dry_run, status, started_at, counts)
           values ('${collides}', 'cli', 0, 'running', '2030-01-01T00:00:00.000Z', '{}')`,
        )
        let settled = false
        const claiming = store.executions.claim('w', 60_000).finally(() => {
          settled = true
        })
        await sleep(200)
        // The claim waits on the unique index for that transaction to end.
        expect(settled).toBe(false)
        await target.query('commit')
        expect(await claiming).toMatchObject({ id: next.id, taskId: free, status: 'running' })
        expect(await store.executions.queued(collides)).toMatchObject({ id: blocked.id })
      },
    )

    it('claims inside a transaction, and the claim rolls back with it', async () => {
      const taskId = newTask()
      const { id } = await store.executions.enqueue({ taskId, trigger: 'plan' })
      const failure = new Error('the run could not be prepared')
      await expect(
        store.transaction(async (tx) => {
          expect(await tx.executions.claim('w', 60_000)).toMatchObject({ id, status: 'running' })
          throw failure
        }),
      ).rejects.toBe(failure)
      expect(await store.executions.get(id)).toMatchObject({ status: 'queued' })
      const claimed = await store.transaction((tx) => tx.executions.claim('w', 60_000))
      expect(claimed).toMatchObject({ id, owner: 'w' })
      expect(await store.executions.running(taskId)).toMatchObject({ id })
    })

    it('gives each queued run to one of many simultaneous claims', async () => {
      const tasks = Array.from({ length: 5 }, () => newTask())
      for (const taskId of tasks) await other.executions.enqueue({ taskId, trigger: 'plan' })
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? store : other).executions.claim(`w${i}`, 60_000),
        ),
      )
      const won = claims.filter((c): c is ExecutionRow => c !== undefined)
      expect(won.map((c) => c.taskId).sort()).toEqual([...tasks].sort())
      for (const c of won) {
        expect(await store.executions.get(c.id)).toMatchObject({
          status: 'running',
          owner: c.owner,
        })
      }
    })
  })

  describe('direct starts', () => {
    it('refuses a second run of a task, naming the running execution and its owner', async () => {
      const taskId = newTask()
      const id = await store.executions.begin({
        taskId,
        trigger: 'cli',
        dryRun: true,
        owner: 'cli 4242@build-host',
        leaseMs: 60_000,
      })
      expect(await store.executions.running(taskId)).toMatchObject({
        id,
        owner: 'cli 4242@build-host',
        dryRun: true,
        status: 'running',
      })

      const again = await rejection(
        other.executions.begin({ taskId, trigger: 'cli', dryRun: false, owner: 'x', leaseMs: 1 }),
      )
      expect(again).toMatchObject({
        code: 'OSY_TASK_RUNNING',
        details: { taskId, executionId: id, owner: 'cli 4242@build-host' },
      })
      expect(again.message).toContain(`execution ${id}`)
      expect(again.message).toContain('cli 4242@build-host')
      // The engine's start obeys the same rule.
      await expect(
        other.executions.start({ taskId, trigger: 'cli', dryRun: false }),
      ).rejects.toMatchObject({ code: 'OSY_TASK_RUNNING' })
      // A claimed run blocks a direct start too, and a queued one does not.
      const queuedTask = newTask()
      await store.executions.enqueue({ taskId: queuedTask, trigger: 'plan' })
      const direct = await store.executions.start({
        taskId: queuedTask,
        trigger: 'cli',
        dryRun: false,
      })
      expect(await store.executions.claim('w', 1000)).toBeUndefined()
      await store.executions.finish(direct, { status: 'succeeded', counts: {} })
      const claimed = await store.executions.claim('w', 60_000)
      await expect(
        store.executions.start({ taskId: queuedTask, trigger: 'cli', dryRun: false }),
      ).rejects.toMatchObject({ code: 'OSY_TASK_RUNNING', details: { executionId: claimed!.id } })

      // Finished, the task may run again.
      await store.executions.finish(id, {
        status: 'succeeded',
        counts: {},
        owner: 'cli 4242@build-host',
      })
      const next = await other.executions.start({ taskId, trigger: 'cli', dryRun: false })
      expect(next).toBeGreaterThan(id)
      const started = await store.executions.get(next)
      expect(started?.owner).toBeUndefined()
      expect(started?.leaseUntil).toBeUndefined()
    })

    it('takes over a run whose lease ran out instead of waiting for a sweep', async () => {
      const taskId = newTask()
      const crashed = await store.executions.begin({
        taskId,
        trigger: 'cli',
        dryRun: false,
        owner: 'cli 1@a',
        leaseMs: 20,
      })
      await sleep(60)
      const next = await other.executions.begin({
        taskId,
        trigger: 'cli',
        dryRun: false,
        owner: 'cli 2@b',
        leaseMs: 60_000,
      })
      expect(await store.executions.get(crashed)).toMatchObject({
        status: 'failed',
        error: { code: 'OSY_LEASE_LOST' },
      })
      expect(await store.executions.running(taskId)).toMatchObject({ id: next, owner: 'cli 2@b' })
    })

    it('lets only one of simultaneous starts of a task run', async () => {
      const taskId = newTask()
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 ? store : other).executions.begin({
            taskId,
            trigger: 'cli',
            dryRun: false,
            owner: `p${i}`,
            leaseMs: 60_000,
          }),
        ),
      )
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
      for (const o of outcomes) {
        if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'OSY_TASK_RUNNING' })
      }
    })
  })

  describe('leases', () => {
    it('extends a lease by heartbeat, loses it once it ran out, and tells of a cancel request', async () => {
      const taskId = newTask()
      await store.executions.enqueue({ taskId, trigger: 'plan' })
      const run = (await store.executions.claim('w1', 60_000))!
      const beat = await other.executions.heartbeat(run.id, 'w1', 120_000)
      expect(beat).toEqual({ alive: true, cancelRequested: false })
      const renewed = (await store.executions.get(run.id))!
      expect(renewed.leaseUntil! > run.leaseUntil!).toBe(true)
      // Someone else's heartbeat does nothing.
      expect(await store.executions.heartbeat(run.id, 'w2', 120_000)).toEqual({
        alive: false,
        cancelRequested: false,
      })
      expect((await store.executions.get(run.id))?.leaseUntil).toBe(renewed.leaseUntil)

      expect(await other.executions.requestCancel(run.id)).toBe('requested')
      expect(await store.executions.heartbeat(run.id, 'w1', 50)).toEqual({
        alive: true,
        cancelRequested: true,
      })
      await sleep(120)
      // Ran out: lost even before anyone expires it, and it cannot be renewed.
      expect((await store.executions.heartbeat(run.id, 'w1', 60_000)).alive).toBe(false)
      expect((await other.executions.expire()).map((e) => e.id)).toEqual([run.id])
      expect((await store.executions.heartbeat(run.id, 'w1', 60_000)).alive).toBe(false)
    })

    it('expires only runs whose lease ran out, as failed with OSY_LEASE_LOST', async () => {
      const [stale, fresh, unleased] = [newTask(), newTask(), newTask()]
      const staleId = await store.executions.begin({
        taskId: stale,
        trigger: 'plan',
        dryRun: false,
        owner: 'worker-7@host-b',
        leaseMs: 20,
      })
      const freshId = await store.executions.begin({
        taskId: fresh,
        trigger: 'plan',
        dryRun: false,
        owner: 'worker-8',
        leaseMs: 60_000,
      })
      const unleasedId = await store.executions.start({
        taskId: unleased,
        trigger: 'cli',
        dryRun: false,
      })
      await sleep(60)

      const expired = await other.executions.expire()
      expect(expired).toHaveLength(1)
      expect(expired[0]).toMatchObject({
        id: staleId,
        taskId: stale,
        trigger: 'plan',
        status: 'failed',
        owner: 'worker-7@host-b',
        error: { code: 'OSY_LEASE_LOST' },
      })
      expect(expired[0]!.error!.message).toMatch(
        /^the worker worker-7@host-b stopped renewing its lease/,
      )
      expect(expired[0]!.endedAt).toBeDefined()
      expect(await store.executions.get(staleId)).toMatchObject({ status: 'failed' })
      expect(await store.executions.running(stale)).toBeUndefined()
      expect(await store.executions.expire()).toEqual([])

      // A caller's clock may be given; a run without a lease never expires.
      const later = await store.executions.expire('2999-01-01T00:00:00.000Z')
      expect(later.map((e) => e.id)).toEqual([freshId])
      expect(later[0]!.endedAt).toBe('2999-01-01T00:00:00.000Z')
      expect(await store.executions.get(unleasedId)).toMatchObject({ status: 'running' })
    })

    it('fences a commit: after the lease ran out the whole transaction is rolled back', async () => {
      const taskId = newTask()
      const id = await store.executions.begin({
        taskId,
        trigger: 'plan',
        dryRun: false,
        owner: 'w1',
        leaseMs: 60_000,
      })
      const link = (key: string) => ({
        taskId,
        pairId: 'people',
        keys: [`a-${key}`, `b-${key}`] as const,
        base: ['{}', '{}'] as const,
        syncedAt: '2030-01-01T00:00:00.000Z',
      })
      await store.transaction(async (tx) => {
        await tx.executions.fence(id, 'w1')
        await tx.links.upsert([link('1')])
      })
      expect(await store.links.count(taskId, 'people')).toBe(1)
      await expect(
        store.transaction(async (tx) => {
          await tx.links.upsert([link('x')])
          await tx.executions.fence(id, 'w2')
        }),
      ).rejects.toMatchObject({ code: 'OSY_LEASE_LOST', message: expect.stringContaining('w2') })

      // The lease runs out while a batch is being written; the fence before commit stops it.
      await store.executions.heartbeat(id, 'w1', 30)
      await sleep(80)
      const lost = await rejection(
        store.transaction(async (tx) => {
          await tx.links.upsert([link('2'), link('3')])
          await tx.executions.fence(id, 'w1')
        }),
      )
      expect(lost).toMatchObject({
        code: 'OSY_LEASE_LOST',
        details: { executionId: id, owner: 'w1' },
      })
      expect(lost.message).toMatch(/lease ran out/)
      expect(await store.links.count(taskId, 'people')).toBe(1)

      await other.executions.expire()
      const after = await rejection(store.transaction((tx) => tx.executions.fence(id, 'w1')))
      expect(after.message).toMatch(/is failed now/)
    })

    it.runIf(dialect.name === 'postgres')(
      'makes expire in another process wait for a fenced batch to commit',
      async () => {
        const taskId = newTask()
        const id = await store.executions.begin({
          taskId,
          trigger: 'plan',
          dryRun: false,
          owner: 'w1',
          leaseMs: 60_000,
        })
        const events: string[] = []
        let expiring: Promise<ExecutionRow[]> | undefined
        await store.transaction(async (tx) => {
          await tx.executions.fence(id, 'w1')
          // Another process judges the lease by a clock far ahead: it would expire the run.
          expiring = other.executions.expire('2999-01-01T00:00:00.000Z').then((rows) => {
            events.push('expired')
            return rows
          })
          await sleep(300)
          await tx.links.upsert([
            {
              taskId,
              pairId: 'people',
              keys: ['a', 'b'],
              base: ['{}', '{}'],
              syncedAt: '2030-01-01T00:00:00.000Z',
            },
          ])
          events.push('batch written')
        })
        events.push('committed')
        expect((await expiring!).map((e) => e.id)).toEqual([id])
        // The expire waited for the batch: without the lock it would have returned during the
        // sleep, before the batch was written. Once the commit releases the lock, which of the
        // two answers node reads first is up to the machine, so only the first event is fixed.
        expect(events[0]).toBe('batch written')
        expect([...events].sort()).toEqual(['batch written', 'committed', 'expired'])
        expect(await store.links.count(taskId, 'people')).toBe(1)
      },
    )

    it('refuses the outcome of a stale worker once its run was taken over', async () => {
      const taskId = newTask()
      await store.executions.enqueue({ taskId, trigger: 'plan' })
      const first = (await store.executions.claim('old-worker', 20))!
      await sleep(60)
      const [lost] = await other.executions.expire()
      expect(lost?.id).toBe(first.id)
      await other.executions.enqueue({ taskId: lost!.taskId, trigger: lost!.trigger })
      const second = (await other.executions.claim('new-worker', 60_000))!
      expect(second.taskId).toBe(taskId)

      const counts = {}
      const stale = await rejection(
        store.executions.finish(first.id, { status: 'succeeded', counts, owner: 'old-worker' }),
      )
      expect(stale).toMatchObject({ code: 'OSY_LEASE_LOST' })
      expect(stale.message).toMatch(/is failed now/)
      await expect(
        store.executions.finish(second.id, { status: 'succeeded', counts, owner: 'old-worker' }),
      ).rejects.toMatchObject({
        code: 'OSY_LEASE_LOST',
        message: expect.stringContaining('runs under new-worker'),
      })
      expect(await store.executions.get(first.id)).toMatchObject({
        status: 'failed',
        error: { code: 'OSY_LEASE_LOST' },
      })
      expect(await store.executions.get(second.id)).toMatchObject({ status: 'running' })

      await other.executions.finish(second.id, {
        status: 'succeeded',
        counts: {},
        owner: 'new-worker',
      })
      expect(await store.executions.get(second.id)).toMatchObject({ status: 'succeeded' })
      // An execution that does not exist is a bug, whoever asks.
      await expect(
        store.executions.finish(-1, { status: 'failed', counts: {}, owner: 'anyone' }),
      ).rejects.toMatchObject({ code: 'OSY_STORE_ERROR' })
    })
  })

  it('cancels a queued run at once and asks a running one to stop', async () => {
    const [queuedTask, runningTask] = [newTask(), newTask()]
    const queued = await store.executions.enqueue({ taskId: queuedTask, trigger: 'manual' })
    const running = await store.executions.begin({
      taskId: runningTask,
      trigger: 'manual',
      dryRun: false,
      owner: 'w',
      leaseMs: 60_000,
    })

    expect(await other.executions.requestCancel(queued.id)).toBe('cancelled')
    const cancelled = await store.executions.get(queued.id)
    expect(cancelled).toMatchObject({ status: 'cancelled' })
    expect(cancelled?.endedAt).toBeDefined()
    expect(await store.executions.claim('w', 1000)).toBeUndefined()
    // Cancelled, it no longer holds the task's place in the queue.
    expect(await store.executions.enqueue({ taskId: queuedTask, trigger: 'manual' })).toMatchObject(
      {
        created: true,
      },
    )

    expect(await other.executions.requestCancel(running)).toBe('requested')
    expect(await store.executions.get(running)).toMatchObject({
      status: 'running',
      cancelRequested: true,
    })
    await store.executions.finish(running, { status: 'cancelled', counts: {}, owner: 'w' })
    expect(await other.executions.requestCancel(running)).toBe('finished')
    expect(await other.executions.requestCancel(queued.id)).toBe('finished')
    expect(await other.executions.requestCancel(-1)).toBe('not-found')
  })

  it('prunes old finished runs and their protocols, keeping the newest per task', async () => {
    const [busy, quiet] = [newTask(), newTask()]
    const finishedRuns: number[] = []
    for (let i = 0; i < 5; i++) {
      const id = await store.executions.start({ taskId: busy, trigger: 'plan', dryRun: false })
      await store.executions.log(id, [
        { at: '2020-01-01T00:00:00.000Z', level: 'info', message: `run ${i}` },
      ])
      await store.executions.finish(id, { status: i === 2 ? 'failed' : 'succeeded', counts: {} })
      finishedRuns.push(id)
    }
    const quietRun = await store.executions.start({ taskId: quiet, trigger: 'plan', dryRun: false })
    await store.executions.finish(quietRun, { status: 'succeeded', counts: {} })
    // Ended long ago: all of them; queued and running ones are never pruned.
    await target.query(
      `update osy_executions set ended_at = '2020-01-02T00:00:00.000Z' where task_id in ('${busy}', '${quiet}')`,
    )
    const stillRunning = await store.executions.start({
      taskId: busy,
      trigger: 'plan',
      dryRun: false,
    })
    const stillQueued = (await store.executions.enqueue({ taskId: busy, trigger: 'plan' })).id

    expect(
      await store.executions.prune({ olderThan: '2020-01-01T00:00:00.000Z', keepPerTask: 1 }),
    ).toBe(0)
    expect(
      await store.executions.prune({ olderThan: '2021-01-01T00:00:00.000Z', keepPerTask: 2 }),
    ).toBe(3)
    expect((await store.executions.list(busy)).map((e) => e.id)).toEqual([
      stillQueued,
      stillRunning,
      finishedRuns[4],
      finishedRuns[3],
    ])
    expect((await store.executions.list(quiet)).map((e) => e.id)).toEqual([quietRun])
    expect(await store.executions.logs(finishedRuns[0]!)).toEqual([])
    expect(await store.executions.logs(finishedRuns[4]!)).toHaveLength(1)
    expect(
      await target.query(
        `select id from osy_execution_logs where execution_id = ${finishedRuns[1]}`,
      ),
    ).toEqual([])
    expect(
      await store.executions.prune({ olderThan: '2021-01-01T00:00:00.000Z', keepPerTask: 0 }),
    ).toBe(3)
    expect((await store.executions.list(busy)).map((e) => e.id)).toEqual([
      stillQueued,
      stillRunning,
    ])
  })

  it('measures leases on the database clock', async () => {
    const before = new Date().toISOString()
    const clock = await store.executions.clock()
    const after = new Date().toISOString()
    expect(clock).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    // Same host: the database clock and ours agree to within a second.
    expect(Date.parse(clock)).toBeGreaterThanOrEqual(Date.parse(before) - 1000)
    expect(Date.parse(clock)).toBeLessThanOrEqual(Date.parse(after) + 1000)
  })

  it('upgrades a 0001 store holding two unfinished runs of a task', async () => {
    // A store as 0001 left it, with what nothing stopped then: runs that never ended.
    const old = await dialect.setup()
    const kysely = rawKysely(old)
    try {
      const migrator = new Migrator({
        db: kysely.scoped,
        provider: migrationProvider({ dialect: dialect.name }),
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
        ...(kysely.schema !== undefined ? { migrationTableSchema: kysely.schema } : {}),
      })
      const { error } = await migrateRetrying(() => migrator.migrateTo('0001-initial'))
      expect(error).toBeUndefined()
      const taskId = newTask()
      const row = (status: string, startedAt: string) =>
        `('${taskId}', 'cli', 0, '${status}', '${startedAt}', '{}')`
      await old.query(
        `insert into osy_executions (task_id, trigger, dry_run, status, started_at, counts) values ${[
          row('running', '2024-01-01T00:00:00.000Z'),
          row('running', '2024-01-02T00:00:00.000Z'),
          row('running', '2024-01-03T00:00:00.000Z'),
          row('queued', '2024-01-04T00:00:00.000Z'),
          row('queued', '2024-01-05T00:00:00.000Z'),
        ].join(', ')}`,
      )

      const upgraded = await openStore(old.options)
      try {
        const runs = await upgraded.executions.list(taskId)
        expect(runs.map((r) => r.status)).toEqual([
          'cancelled',
          'queued',
          'running',
          'failed',
          'failed',
        ])
        expect(runs[3]).toMatchObject({ error: { code: 'OSY_LEASE_LOST' }, cancelRequested: false })
        await expect(
          upgraded.executions.start({ taskId, trigger: 'cli', dryRun: false }),
        ).rejects.toMatchObject({ code: 'OSY_TASK_RUNNING', details: { executionId: runs[2]!.id } })
      } finally {
        await upgraded.close()
      }
    } finally {
      await kysely.destroy()
      await old.teardown()
    }
  })
})

/** A bare Kysely on the target's database, for building a store of an older schema. */
function rawKysely(target: Target): {
  scoped: Kysely<unknown>
  schema: string | undefined
  destroy(): Promise<void>
} {
  const { url, schema } = target.options
  const db = url?.startsWith('postgres')
    ? new Kysely<unknown>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
      })
    : new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(url!) }) })
  return {
    scoped: schema === undefined ? db : db.withSchema(schema),
    schema,
    destroy: () => db.destroy(),
  }
}
