/**
 * The CSV bridge beyond the contract suite: file formats (delimiters, quotes, NULL, BOM,
 * encodings), errors that name the line, keys and settings, snapshot reads, and atomic
 * rewrites that a crash cannot cut in half.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { CsvConnection } from '../../src/bridges/csv/csv-connection.ts'
import { CsvSpecs } from '../../src/bridges/csv/csv-settings.ts'
import { csvBridge } from '../../src/bridges/csv/index.ts'
import {
  type BridgeConnection,
  type ConnectionValues,
  isOpenSyncError,
  type OpenSyncError,
  type RecordBatch,
  type SourceRecord,
  silentLogger,
  type WriteOp,
} from '../../src/sdk/index.ts'

const root = mkdtempSync(join(tmpdir(), 'osy-csv-test-'))
let folder: string
let n = 0
const opened: BridgeConnection[] = []

beforeEach(() => {
  folder = join(root, `f${++n}`)
  mkdirSync(folder, { recursive: true })
})

afterAll(async () => {
  for (const c of opened) await c.close()
  rmSync(root, { recursive: true, force: true })
})

async function connect(
  values: ConnectionValues = {},
  settings?: Record<string, unknown>,
): Promise<BridgeConnection> {
  const conn = await csvBridge.connect(
    { folder, ...values },
    { log: silentLogger, ...(settings ? { settings } : {}) },
  )
  opened.push(conn)
  return conn
}

async function all(batches: AsyncIterable<RecordBatch>): Promise<SourceRecord[]> {
  const out: SourceRecord[] = []
  for await (const b of batches) out.push(...b.records)
  return out
}

async function errorOf(promise: Promise<unknown>): Promise<OpenSyncError> {
  try {
    await promise
  } catch (error) {
    if (isOpenSyncError(error)) return error
    throw error
  }
  throw new Error('expected an error')
}

const file = (name: string) => join(folder, name)
const put = (name: string, content: string | Buffer) => writeFileSync(file(name), content)
const text = (name: string) => readFileSync(file(name), 'utf8')

describe('CSV formats', () => {
  it('reads a semicolon file with single quotes and a NULL word, and rewrites it in kind', async () => {
    put('t.csv', "id;name;city\n1;'Meier; Anna';NULL\n2;'O''Brien';''\n")
    const conn = await connect({ key: 'id', delimiter: ';', quote: "'", nullValue: 'NULL' })
    const records = await all(conn.read('t'))
    expect(records.map((r) => r.values)).toEqual([
      { id: '1', name: 'Meier; Anna', city: null },
      { id: '2', name: "O'Brien", city: '' },
    ])
    const results = await conn.write('t', [
      { op: 'update', key: '1', values: { city: 'Köln' } },
      { op: 'create', values: { id: '3', name: 'NULL', city: null } },
    ])
    expect(results.every((r) => r.ok)).toBe(true)
    // The word NULL as text is quoted, so it reads back as text and not as NULL.
    // With NULL spelled out, the empty string needs no quotes.
    expect(text('t.csv')).toBe("id;name;city\n1;'Meier; Anna';Köln\n2;'O''Brien';\n3;'NULL';NULL\n")
    expect((await all(conn.read('t'))).at(-1)!.values).toEqual({
      id: '3',
      name: 'NULL',
      city: null,
    })
  })

  it('reads tab-separated files and keeps CRLF line endings on a rewrite', async () => {
    put('t.csv', 'id\tnote\r\n1\t"two\r\nlines"\r\n2\tplain\r\n')
    const conn = await connect({ key: 'id', delimiter: 'tab' })
    expect((await all(conn.read('t'))).map((r) => r.values.note)).toEqual(['two\r\nlines', 'plain'])
    await conn.write('t', [{ op: 'update', key: '2', values: { note: 'changed' } }])
    expect(text('t.csv')).toBe('id\tnote\r\n1\t"two\r\nlines"\r\n2\tchanged\r\n')
  })

  it('tells NULL (an unquoted empty field) from the empty string ("") both ways', async () => {
    put('t.csv', 'id,a,b\n1,,""\n')
    const conn = await connect({ key: 'id' })
    expect((await all(conn.read('t')))[0]!.values).toEqual({ id: '1', a: null, b: '' })
    await conn.write('t', [{ op: 'create', values: { id: '2', a: '', b: null } }])
    expect(text('t.csv')).toBe('id,a,b\n1,,""\n2,"",\n')
  })

  it('skips a UTF-8 byte-order mark on reading, keeps it on a rewrite, and writes one when asked', async () => {
    put('t.csv', '\uFEFFid,name\n1,Zoë\n')
    const conn = await connect(
      { key: 'id', bom: true },
      { recordTypes: { fresh: { key: ['id'], fields: { id: 'integer', name: 'string' } } } },
    )
    const records = await all(conn.read('t'))
    expect(Object.keys(records[0]!.values)).toEqual(['id', 'name'])
    await conn.write('t', [{ op: 'create', values: { id: '2', name: 'Ægir' } }])
    expect(readFileSync(file('t.csv')).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
    expect(text('t.csv')).toBe('\uFEFFid,name\n1,Zoë\n2,Ægir\n')
    // A new file of a declared type gets a BOM because the connection asks for one.
    await conn.write('fresh', [{ op: 'create', values: { id: 1, name: 'a' } }])
    expect(text('fresh.csv')).toBe('\uFEFFid,name\n1,a\n')
  })

  it('reads and writes Latin-1 files, refusing characters Latin-1 cannot hold for that record alone', async () => {
    put('t.csv', Buffer.from('id,city\n1,Köln\n', 'latin1'))
    const conn = await connect({ key: 'id', encoding: 'latin1' })
    expect((await all(conn.read('t')))[0]!.values.city).toBe('Köln')
    const results = await conn.write('t', [
      { op: 'create', values: { id: '2', city: 'Düsseldorf' } },
      { op: 'create', values: { id: '3', city: 'Zürich 😀' } },
    ])
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'OSY_WRONG_TYPE'])
    expect(readFileSync(file('t.csv'))).toEqual(
      Buffer.from('id,city\n1,Köln\n2,Düsseldorf\n', 'latin1'),
    )
  })

  it('reads UTF-16 LE files by their byte-order mark and rewrites them in UTF-16', async () => {
    put(
      't.csv',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id,name\n1,中文\n', 'utf16le')]),
    )
    const conn = await connect({ key: 'id' })
    expect((await all(conn.read('t')))[0]!.values).toEqual({ id: '1', name: '中文' })
    await conn.write('t', [{ op: 'create', values: { id: '2', name: 'Ωmega' } }])
    const bytes = readFileSync(file('t.csv'))
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xfe]))
    expect(bytes.subarray(2).toString('utf16le')).toBe('id,name\n1,中文\n2,Ωmega\n')
  })

  it('rejects bad format options and bad settings by name', async () => {
    expect((await errorOf(connect({ encoding: 'ebcdic' }))).message).toContain('encoding')
    expect((await errorOf(connect({ quote: '<>' }))).message).toContain('quote')
    const bad = await errorOf(connect({}, { recordTypes: { t: { fields: { id: 'number' } } } }))
    expect(bad.code).toBe('OSY_INVALID_CONNECTION')
    expect(bad.message).toContain('settings.recordTypes.t.fields.id')
    const outside = await errorOf(connect({}, { recordTypes: { t: { file: '../etc/passwd' } } }))
    expect(outside.message).toContain('settings.recordTypes.t.file')
  })
})

describe('errors that name the line', () => {
  it('names the line of a record with the wrong number of fields', async () => {
    put('t.csv', 'id,name\n1,a\n2,b\n3\n4,d\n')
    const conn = await connect({ key: 'id' })
    const error = await errorOf(all(conn.read('t')))
    expect(error.code).toBe('OSY_FILE_PARSE_ERROR')
    expect(error.message).toMatch(/t\.csv line 4: the number of fields differs from the header/)
    expect(error.details).toMatchObject({ line: 4 })
  })

  it('names the line of an unclosed quote and of a stray quote', async () => {
    put('a.csv', 'id,name\n1,"open\n2,b\n')
    put('b.csv', 'id,name\n1,a\n2,b"x"\n')
    const conn = await connect({ key: 'id' })
    const open = await errorOf(all(conn.read('a')))
    expect(open.code).toBe('OSY_FILE_PARSE_ERROR')
    expect(open.message).toMatch(/not closed/)
    const stray = await errorOf(all(conn.read('b')))
    expect(stray.message).toMatch(/b\.csv line 3: a quote inside a field/)
  })

  it('names the line and field of a value that is not of the declared type, without the value', async () => {
    put('t.csv', 'id,age\n1,42\n2,secret-forty\n')
    const conn = await connect(
      { key: 'id' },
      { recordTypes: { t: { fields: { age: 'integer' } } } },
    )
    const error = await errorOf(all(conn.read('t')))
    expect(error.code).toBe('OSY_FILE_PARSE_ERROR')
    expect(error.message).toBe(`${file('t.csv')} line 3, field "age": not a whole number`)
    expect(error.message).not.toContain('secret')
  })

  it('refuses a file that holds one key twice, naming both rows, and leaves it unwritten', async () => {
    put('t.csv', 'id,name\n1,a\n2,b\n1,c\n')
    const conn = await connect({ key: 'id' })
    const error = await errorOf(all(conn.read('t')))
    expect(error.code).toBe('OSY_DUPLICATE_KEY')
    expect(error.message).toContain('key 1 is in data rows 1 and 3')
    const write = await errorOf(
      conn.write('t', [{ op: 'update', key: '2', values: { name: 'B' } }]),
    )
    expect(write.code).toBe('OSY_DUPLICATE_KEY')
    expect(text('t.csv')).toBe('id,name\n1,a\n2,b\n1,c\n')
  })

  it('names the row whose key field is empty', async () => {
    put('t.csv', 'id,name\n1,a\n,b\n')
    const conn = await connect({ key: 'id' })
    const error = await errorOf(all(conn.read('t')))
    expect(error.code).toBe('OSY_FILE_PARSE_ERROR')
    expect(error.message).toContain('t.csv: data row 2 has no value for key field "id"')
  })

  it('tells a missing folder and a missing file apart', async () => {
    const gone = await csvBridge.connect({ folder: join(folder, 'nope') }, { log: silentLogger })
    expect((await errorOf(gone.check())).code).toBe('OSY_UNKNOWN_DATABASE')
    const conn = await connect()
    const missing = await errorOf(all(conn.read('nothing')))
    expect(missing.code).toBe('OSY_RECORD_TYPE_NOT_FOUND')
    expect(missing.message).toContain('nothing.csv')
  })
})

describe('record types', () => {
  it('discovers every .csv file: text columns, the connection key, keyless files read-only', async () => {
    put('a.csv', 'id,name\n1,x\n')
    put('b.csv', 'code,label\nX,y\n')
    put('notes.txt', 'not a record type')
    const conn = await connect({ key: 'id' })
    const types = await conn.discover()
    expect(types.map((t) => [t.name, t.keyFields, t.readOnly])).toEqual([
      ['a', ['id'], false],
      ['b', [], true],
    ])
    expect(types[0]!.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'string'],
      ['name', 'string'],
    ])
    // A keyless file is read by the key fields the caller names, and refuses writes.
    expect((await all(conn.read('b', { keyFields: ['code'] }))).map((r) => r.key)).toEqual(['X'])
    expect((await errorOf(all(conn.read('b')))).code).toBe('OSY_UNSUPPORTED')
    const write = await errorOf(conn.write('b', [{ op: 'delete', key: 'X' }]))
    expect(write.code).toBe('OSY_READ_ONLY_RECORD_TYPE')
  })

  it('keeps numbers as text unless a type is declared, and then reads them exactly', async () => {
    put('t.csv', 'id,amount,big,when\n1,0012.50,12345678901234567890,2024-03-01 14:00:00+02:00\n')
    const plain = await connect({ key: 'id' })
    expect((await all(plain.read('t')))[0]!.values).toEqual({
      id: '1',
      amount: '0012.50',
      big: '12345678901234567890',
      when: '2024-03-01 14:00:00+02:00',
    })
    const typed = await connect(
      {},
      {
        recordTypes: {
          t: {
            key: ['id'],
            fields: { id: 'integer', amount: 'decimal', big: 'integer', when: 'timestamptz' },
          },
        },
      },
    )
    expect((await all(typed.read('t')))[0]!.values).toEqual({
      id: 1,
      amount: '0012.50',
      big: 12345678901234567890n,
      when: '2024-03-01T12:00:00.000000Z',
    })
  })

  it('lists a declared type before its file exists, and the first write makes the file', async () => {
    const conn = await connect(
      {},
      {
        recordTypes: {
          orders: {
            file: 'Bestellungen.csv',
            key: ['nr'],
            fields: { nr: { type: 'integer', generated: true }, total: 'decimal' },
          },
        },
      },
    )
    const [orders] = await conn.discover()
    expect(orders).toMatchObject({ name: 'orders', keyFields: ['nr'], readOnly: false })
    expect(await all(conn.read('orders'))).toEqual([])
    const results = await conn.write('orders', [
      { op: 'create', values: { total: '9.99' } },
      { op: 'create', values: { total: '5' } },
    ])
    expect(results.map((r) => r.ok && r.key)).toEqual(['1', '2'])
    expect(text('Bestellungen.csv')).toBe('nr,total\n1,9.99\n2,5\n')
  })

  it('describes files by wildcard names, an exact name winning', async () => {
    put('sales_2023.csv', 'id,total\n1,5\n')
    put('sales_2024.csv', 'id,total\n1,7\n')
    const conn = await connect(
      {},
      {
        recordTypes: {
          sales_2024: { key: ['id'], fields: { total: 'integer' } },
          'sales_*': { key: ['id'], fields: { total: 'decimal' } },
        },
      },
    )
    const types = new Map((await conn.discover()).map((t) => [t.name, t]))
    expect(types.get('sales_2023')!.fields[1]!.type).toBe('decimal')
    expect(types.get('sales_2024')!.fields[1]!.type).toBe('integer')
  })
})

describe('reads', () => {
  it('see the file as it was when they began, though a write replaces it meanwhile', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `${i + 1},old`).join('\n')
    put('t.csv', `id,v\n${rows}\n`)
    const conn = await connect({ key: 'id' })
    const seen: SourceRecord[] = []
    let wrote = false
    for await (const batch of conn.read('t', { batchSize: 500 })) {
      seen.push(...batch.records)
      if (!wrote) {
        wrote = true
        const ops: WriteOp[] = [
          { op: 'update', key: '2999', values: { v: 'new' } },
          { op: 'delete', key: '3000' },
          { op: 'create', values: { id: '3001', v: 'new' } },
        ]
        expect((await conn.write('t', ops)).every((r) => r.ok)).toBe(true)
      }
    }
    expect(seen).toHaveLength(3000)
    expect(new Set(seen.map((r) => r.values.v))).toEqual(new Set(['old']))
    const after = await all(conn.read('t'))
    expect(after.map((r) => r.key).slice(-2)).toEqual(['2999', '3001'])
  })

  it('filter records by SQL conditions and key-value pairs, evaluated in the bridge', async () => {
    put('t.csv', 'id,name,score\n1,Anna,10.5\n2,Bert,9\n3,anna,\n')
    const conn = await connect(
      {},
      { recordTypes: { t: { key: ['id'], fields: { score: 'decimal' } } } },
    )
    const names = async (filter: Parameters<BridgeConnection['read']>[1]) =>
      (await all(conn.read('t', filter))).map((r) => r.values.name)
    expect(await names({ filter: { sql: 'score > 9.25' } })).toEqual(['Anna'])
    expect(await names({ filter: { sql: "name ILIKE 'anna' AND score IS NULL" } })).toEqual([
      'anna',
    ])
    expect(await names({ filter: { sql: "name <> 'Bert' AND score IS NOT NULL" } })).toEqual([
      'Anna',
    ])
    expect(await names({ filter: { keyValue: { name: 'Bert' } } })).toEqual(['Bert'])
    expect(await names({ filter: { sql: 'id IN (3, 1)' } })).toEqual(['Anna', 'anna'])
  })
})

describe('atomic rewrites', () => {
  const format = {
    delimiter: ',',
    quote: '"',
    encoding: 'utf8',
    nullValue: '',
    bom: false,
    lineEnding: '\n',
  } as const

  it('leave the old file and no temporary file when the write fails before the rename', async () => {
    put('t.csv', 'id,v\n1,a\n2,b\n')
    const before = readFileSync(file('t.csv'))
    const conn = new CsvConnection({
      folder,
      specs: new CsvSpecs({}, format, ['id']),
      create: false,
      log: silentLogger,
      replaceHooks: {
        beforeRename: (temp) => {
          // The new content is complete on disk at this point.
          expect(readFileSync(temp, 'utf8')).toBe('id,v\n1,A\n2,b\n')
          throw new Error('disk pulled')
        },
      },
    })
    await expect(conn.write('t', [{ op: 'update', key: '1', values: { v: 'A' } }])).rejects.toThrow(
      'disk pulled',
    )
    expect(readFileSync(file('t.csv'))).toEqual(before)
    expect(readdirSync(folder)).toEqual(['t.csv'])
  })

  /** A file of `rows` items, each at version `version`. */
  function items(rows: number, version: string) {
    const lines = Array.from({ length: rows }, (_, i) => `${i + 1},item ${i + 1},${version}`)
    put('items.csv', `id,name,version\n${lines.join('\n')}\n`)
  }

  /** The versions in the items file now: one per row. */
  async function versions(rows: number): Promise<Set<unknown>> {
    const conn = await connect({ key: 'id' })
    const records = await all(conn.read('items'))
    expect(records).toHaveLength(rows)
    return new Set(records.map((r) => r.values.version))
  }

  function child(args: string[]): { proc: ChildProcess; said: (word: string) => Promise<void> } {
    const proc = spawn(process.execPath, ['test/support/csv-write-child.ts', folder, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    const waiting: [string, () => void][] = []
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      for (const [word, resolve] of waiting) if (out.includes(word)) resolve()
    })
    return {
      proc,
      said: (word) =>
        new Promise((resolve) => {
          if (out.includes(word)) resolve()
          else waiting.push([word, resolve])
        }),
    }
  }

  const exited = (proc: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve()
      else proc.once('exit', () => resolve())
    })

  it('a process killed between the synced temporary file and the rename leaves the old file; the next write clears its leftovers', async () => {
    items(2000, 'v0')
    const { proc, said } = child(['2000', 'v1', 'pause'])
    await said('renaming')
    expect(readdirSync(folder).filter((f) => f.endsWith('.tmp'))).toHaveLength(1)
    proc.kill('SIGKILL')
    await exited(proc)
    expect(await versions(2000)).toEqual(new Set(['v0']))
    const conn = await connect({ key: 'id' })
    await conn.write('items', [{ op: 'update', key: '1', values: { version: 'v0' } }])
    expect(readdirSync(folder)).toEqual(['items.csv'])
  })

  it('a process killed at any moment of a rewrite leaves the old file or the new one, never part of one', async () => {
    const rows = 60_000
    items(rows, 'v0')
    for (let round = 1; round <= 4; round++) {
      const { proc, said } = child([String(rows), `v${round}`])
      await said('writing')
      // The rewrite of 60,000 rows takes a few hundred milliseconds: kill it somewhere inside.
      await new Promise((r) => setTimeout(r, 20 + ((round * 97) % 400)))
      proc.kill('SIGKILL')
      await exited(proc)
      const found = await versions(rows)
      expect(found.size).toBe(1)
      const [version] = [...found] as string[]
      expect([`v${round - 1}`, `v${round}`]).toContain(version)
      // Continue from whatever is there, so the next round's "old" is known.
      if (version !== `v${round}`) items(rows, `v${round}`)
    }
  }, 120_000)
})
