import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { SQLITE_PRAGMAS } from '../../src/store/open-store.ts'

describe('SQLite store connection settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'osy-pragmas-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('syncs every commit, journals statements in memory, and waits for the write lock', () => {
    const file = join(dir, 'store.db')
    new Database(file).exec('pragma journal_mode = wal').close()
    const db = new Database(file)
    try {
      // better-sqlite3's build opens a WAL database with NORMAL (1): synced at checkpoints only.
      expect(db.pragma('synchronous', { simple: true })).toBe(1)
      for (const pragma of SQLITE_PRAGMAS) db.exec(pragma)
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('synchronous', { simple: true })).toBe(2)
      expect(db.pragma('temp_store', { simple: true })).toBe(2)
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1)
      expect(db.pragma('busy_timeout', { simple: true })).toBe(5000)
    } finally {
      db.close()
    }
  })
})
