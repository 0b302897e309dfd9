/**
 * Crash safety: a run is killed with SIGKILL at many moments (before a write, between a
 * write and its checkpoint, after a commit); after a rerun both sides hold exactly the
 * expected records, with no duplicate and no lost change, and a further run writes nothing.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { openStore } from '../../src/store/index.ts'
import { bridgeCombos, SyncFixture, written } from '../support/sync-fixture.ts'

const run = promisify(execFile)
const child = new URL('../support/crash-child.ts', import.meta.url).pathname

const points = ['before-write', 'after-write', 'after-commit'] as const
const cases = points.flatMap((point) => [1, 4, 9].map((n) => [point, n] as const))

describe.each(bridgeCombos().slice(0, 2))('crash safety %s', (_label, crmHarness, erpHarness) => {
  let fx: SyncFixture
  beforeAll(async () => {
    fx = await SyncFixture.create(crmHarness, erpHarness)
  })
  afterAll(async () => {
    await fx?.close()
  })

  it.each(cases)(
    'killed at %s #%i, a rerun converges without duplicates or losses',
    async (point, n) => {
      const t = await fx.contacts()
      const crmRows = Array.from(
        { length: 120 },
        (_, i) => [`p${i}@example.com`, `Person ${i}`, 'Berlin', `${i}.25`] as const,
      )
      const erpRows = Array.from(
        { length: 60 },
        (_, i) => [`p${i + 90}@example.com`, `Erp ${i + 90}`, 'Wien', '1.00'] as const,
      )
      await fx.insert('crm', t, crmRows)
      await fx.insert('erp', t, erpRows)

      // The crashing run keeps its metadata in its own SQLite store, shared with the reruns.
      const dir = mkdtempSync(join(tmpdir(), 'osy-crash-'))
      const storeFile = join(dir, 'store.db')
      const taskFile = join(dir, 'task.yaml')
      const task = parseTaskFile(taskYaml(fx, t), { format: 'yaml', env: {} })
      writeFileSync(taskFile, taskYaml(fx, t))
      const crashed = await run(process.execPath, [
        child,
        storeFile,
        taskFile,
        point,
        String(n),
      ]).then(
        (r) => r.stdout,
        (e: { signal?: string }) => e.signal,
      )
      expect(crashed).toBe('SIGKILL')

      // Someone edits both sides while the service is down.
      await fx.sql('crm', `UPDATE "${t}" SET "city" = 'Edited' WHERE "email" = 'p5@example.com'`)
      await fx.sql(
        'erp',
        `UPDATE "${t}" SET "name" = 'Edited in ERP' WHERE "email" = 'p130@example.com'`,
      )

      const store = await openStore({ url: storeFile })
      try {
        const registry = fx.registry
        const rerun = await runTask(task, { store, registry, batchSize: 20 })
        expect(rerun.status, JSON.stringify(rerun.error)).toBe('succeeded')
        expect(rerun.totals.errors).toBe(0)
        const again = await runTask(task, { store, registry, batchSize: 20 })
        expect(written(again)).toBe(0)
        expect(await store.links.count(task.id, `${t}-${t}`)).toBe(150)
      } finally {
        await store.close()
      }
      const crm = await fx.rows('crm', t)
      const erp = await fx.rows('erp', t)
      expect(crm.size).toBe(150)
      expect(erp).toEqual(crm)
      expect(crm.get('p5@example.com')!.city).toBe('Edited')
      expect(crm.get('p130@example.com')!.name).toBe('Edited in ERP')
    },
  )
})

describe.each(bridgeCombos().slice(0, 2))(
  'crash safety without match keys, by external ID: %s',
  (_label, crmHarness, erpHarness) => {
    let fx: SyncFixture
    beforeAll(async () => {
      fx = await SyncFixture.create(crmHarness, erpHarness)
    })
    afterAll(async () => {
      await fx?.close()
    })

    it.each([1, 3])(
      'killed between a create and its link (batch %i): the rerun finds the record by its external ID',
      async (n) => {
        const t = await fx.contacts()
        await fx.insert(
          'crm',
          t,
          Array.from(
            { length: 100 },
            (_, i) => [`p${i}@example.com`, `Person ${i}`, 'Berlin', '1.00'] as const,
          ),
        )
        const dir = mkdtempSync(join(tmpdir(), 'osy-crash-'))
        const storeFile = join(dir, 'store.db')
        const taskFile = join(dir, 'task.yaml')
        writeFileSync(taskFile, taskYaml(fx, t, 'externalId'))
        const crashed = await run(process.execPath, [
          child,
          storeFile,
          taskFile,
          'after-write',
          String(n),
        ]).then(
          (r) => r.stdout,
          (e: { signal?: string }) => e.signal,
        )
        expect(crashed).toBe('SIGKILL')
        const task = parseTaskFile(taskYaml(fx, t, 'externalId'), { format: 'yaml', env: {} })
        const store = await openStore({ url: storeFile })
        try {
          const rerun = await runTask(task, { store, registry: fx.registry, batchSize: 20 })
          expect(rerun.status).toBe('succeeded')
          // A second create of a landed record would break the ERP's unique e-mail: an error.
          expect(rerun.totals.errors).toBe(0)
          expect(rerun.log.some((l) => /recovered \d+ interrupted create/.test(l.message))).toBe(
            true,
          )
          expect(
            written(await runTask(task, { store, registry: fx.registry, batchSize: 20 })),
          ).toBe(0)
        } finally {
          await store.close()
        }
        expect(await fx.count('erp', t)).toBe(100)
      },
    )
  },
)

function taskYaml(
  fx: SyncFixture,
  table: string,
  variant: 'match' | 'externalId' = 'match',
): string {
  if (variant === 'externalId') {
    return `id: ${table}
subject: crash ${table}
systems:
  crm: { bridge: ${fx.crmHarness.bridge.name}, connection: ${JSON.stringify(fx.crm.values)} }
  erp: { bridge: ${fx.erpHarness.bridge.name}, connection: ${JSON.stringify(fx.erp.values)} }
pairs:
  - crm: { type: ${table}, cursor: updated_at }
    erp: { type: ${table}, cursor: updated_at, externalId: ext_id }
    fields: { email: email, name: name, city: city, score: score }
    direction: crm->erp
`
  }
  return `id: ${table}
subject: crash ${table}
systems:
  crm: { bridge: ${fx.crmHarness.bridge.name}, connection: ${JSON.stringify(fx.crm.values)} }
  erp: { bridge: ${fx.erpHarness.bridge.name}, connection: ${JSON.stringify(fx.erp.values)} }
pairs:
  - crm: { type: ${table}, cursor: updated_at }
    erp: { type: ${table}, cursor: updated_at }
    fields: { email: email, name: name, city: city, score: score }
    match: [email]
    direction: both
    conflict: { winner: crm }
`
}
