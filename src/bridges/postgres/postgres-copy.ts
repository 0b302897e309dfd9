import { pipeline } from 'node:stream/promises'
import { from as copyFrom } from 'pg-copy-streams'
import type { PostgresPoolClient } from './postgres-driver.ts'
import type { PostgresFieldInfo, PostgresRecordType } from './postgres-introspector.ts'

/**
 * Creates at or above this many rows in one group go through `COPY … FROM STDIN` instead of
 * `INSERT … SELECT FROM unnest(…)`: PostgreSQL's bulk path, several times cheaper per row on
 * both ends. Below it the statement's round trip dominates and INSERT is as fast.
 */
export const COPY_MIN_ROWS = 200

/** Key column types whose value reads back as it was sent (`bpchar` pads, so it does not). */
const COPYABLE_KEY_TYPES = new Set([
  'integer',
  'bigint',
  'smallint',
  'text',
  'character varying',
  'uuid',
])

/**
 * Whether a create group can go through COPY: it sends every key column (COPY returns no
 * generated keys), and the keys read back as sent. A trigger or default on other columns is
 * fine: COPY fires row triggers and applies defaults as INSERT does.
 */
export function canCopy(
  rt: PostgresRecordType,
  fields: readonly PostgresFieldInfo[],
  rows: number,
): boolean {
  if (rows < COPY_MIN_ROWS) return false
  return rt.keyFields.every((name) => {
    const f = fields.find((x) => x.name === name)
    return f !== undefined && COPYABLE_KEY_TYPES.has(f.arrayCast)
  })
}

/**
 * Streams rows (pg parameters, as `toParam` makes them) into the table with COPY in text
 * format. Atomic like one INSERT: a bad row fails the whole COPY, and the caller's
 * savepoint and halving find it.
 */
export async function copyRows(
  client: PostgresPoolClient,
  rt: PostgresRecordType,
  columns: string,
  rows: readonly (readonly unknown[])[],
): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${rt.from} (${columns}) FROM STDIN`))
  await pipeline(chunked(rows), stream)
}

/** The rows as COPY text, ~256 KB per chunk. */
function* chunked(rows: readonly (readonly unknown[])[]): Generator<string> {
  let chunk = ''
  for (const row of rows) {
    let line = ''
    for (let i = 0; i < row.length; i++) {
      if (i > 0) line += '\t'
      line += copyText(row[i])
    }
    chunk += `${line}\n`
    if (chunk.length >= 262_144) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk.length > 0) yield chunk
}

const SPECIAL = /[\\\t\n\r]/

/** One value in COPY's text format: `\N` for NULL, backslash escapes for the rest. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  if (typeof value === 'string') {
    return SPECIAL.test(value)
      ? value.replace(/[\\\t\n\r]/g, (c) =>
          c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
        )
      : value
  }
  if (typeof value === 'boolean') return value ? 't' : 'f'
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`
  if (value instanceof Date) return value.toISOString()
  return copyText(JSON.stringify(value))
}
