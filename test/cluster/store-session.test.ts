/**
 * The store survives the server ending a session it holds: what a worker paused inside a
 * transaction meets once idle_in_transaction_session_timeout has ended it (cluster mode).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.ts'
import { PG_URL } from '../support/postgres-harness.ts'

const schema = `osy_ss_${randomBytes(4).toString('hex')}`

afterAll(async () => {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
})

it('a transaction whose session the server ends fails as a store error; the process and the store go on', async () => {
  const store = await openStore({ url: PG_URL, schema })
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  try {
    const failed = store.transaction(async (tx) => {
      await tx.executions.enqueue({ taskId: 't', trigger: 'manual' })
      // The session is ended while the transaction is open and idle, as the timeout does.
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE state = 'idle in transaction' AND query ILIKE '%osy_executions%' AND pid <> pg_backend_pid()`,
      )
      await new Promise((r) => setTimeout(r, 200))
      await tx.executions.enqueue({ taskId: 'u', trigger: 'manual' })
    })
    await expect(failed).rejects.toMatchObject({ code: 'OSY_STORE_ERROR' })
    // Nothing of the ended transaction was committed, and the store still answers.
    expect(await store.executions.queued('t')).toBeUndefined()
    expect((await store.executions.enqueue({ taskId: 't', trigger: 'manual' })).created).toBe(true)
  } finally {
    await admin.end()
    await store.close()
  }
})
