/**
 * Processes that open one fresh SQLite store at the same moment: every one migrates or
 * waits for the one that does, none fails half-way ("duplicate column name").
 */
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/index.ts'
import { MIGRATION_NAMES } from '../../src/store/migration-provider.ts'

const BIN = fileURLToPath(new URL('../../bin/opensync.js', import.meta.url))

function migrate(file: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'migrate', '--store', file], (error, _stdout, stderr) => {
      const code = error ? Number((error as { code?: unknown }).code ?? -1) : 0
      resolve({ code, stderr })
    })
  })
}

describe('SQLite store migrations across processes', () => {
  it('four processes migrating one fresh store at once all succeed, each migration once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osy-migrate-race-'))
    for (let round = 0; round < 3; round++) {
      const file = join(dir, `store-${round}.db`)
      const results = await Promise.all([1, 2, 3, 4].map(() => migrate(file)))
      for (const r of results) expect(r.stderr).toBe('')
      expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0])
      const store = await openStore({ url: file })
      try {
        expect(await store.pendingMigrations()).toEqual([])
      } finally {
        await store.close()
      }
    }
    expect(MIGRATION_NAMES.length).toBeGreaterThan(4)
  }, 120_000)
})
