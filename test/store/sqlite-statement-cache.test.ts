import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { statementCachingDatabase } from '../../src/store/sqlite-statement-cache.ts'

describe('statementCachingDatabase', () => {
  const open = (size?: number) => {
    const raw = new Database(':memory:')
    raw.exec('create table t (n integer); insert into t values (1), (2), (3)')
    return statementCachingDatabase(raw, size)
  }

  it('hands out the statement it prepared for the same text', () => {
    const db = open()
    const first = db.prepare('select n from t order by n')
    expect(db.prepare('select n from t order by n')).toBe(first)
    expect(db.prepare('select n from t order by n desc')).not.toBe(first)
    expect(first.all([])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
  })

  it('prepares a new statement while the cached one is still iterating', () => {
    const db = open()
    const sql = 'select n from t order by n'
    const outer = db.prepare(sql)
    const seen: unknown[] = []
    for (const row of outer.iterate([])) {
      const inner = db.prepare(sql)
      expect(inner).not.toBe(outer)
      seen.push(row, inner.all([]).length)
    }
    expect(seen).toEqual([{ n: 1 }, 3, { n: 2 }, 3, { n: 3 }, 3])
  })

  it('keeps at most its size, dropping the least recently used', () => {
    const db = open(2)
    const a = db.prepare('select 1')
    const b = db.prepare('select 2')
    expect(db.prepare('select 1')).toBe(a) // a is now the most recent
    db.prepare('select 3') // drops b
    expect(db.prepare('select 1')).toBe(a)
    expect(db.prepare('select 2')).not.toBe(b)
  })
})
