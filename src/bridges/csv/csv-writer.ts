import type { FileHandle } from 'node:fs/promises'
import {
  decodeKey,
  encodeKey,
  isOpenSyncError,
  OpenSyncError,
  type Value,
  type WriteOp,
  type WriteResult,
} from '../../sdk/index.ts'
import type { CsvFormat } from './csv-format.ts'
import { CsvFormatter } from './csv-format.ts'
import type { CsvRecordType } from './csv-introspector.ts'
import type { CellDecoder } from './csv-reader.ts'

/** A row as the writer handles it: one cell per column, text or `null`. */
export type Cells = (string | null)[]

/** One op checked against the record type: its canonical key and its cells. */
interface PlannedOp {
  readonly index: number
  readonly op: WriteOp['op']
  /** Absent for a create whose key the bridge generates. */
  key?: string
  /** Per column: the new cell, or `undefined` where the op leaves the column alone. */
  readonly cells?: readonly (string | null | undefined)[]
}

/** The state of one key while the ops of a batch are applied. */
interface KeyState {
  /** The row now, or null when there is none. */
  row: Cells | null
  /** The row was in the file, where its final state is written in place. */
  inFile: boolean
}

/** What a rewrite reads from the old file: its rows, and how it is laid out. */
export interface OldFile {
  /** The rows of the file (cells as text), key columns checked against their types. */
  readonly rows: AsyncIterable<Cells>
  /**
   * Called for each row's key, to catch a key twice: returns a promise (which may reject
   * with `OSY_DUPLICATE_KEY`) only when the key may have been seen before.
   */
  readonly seen?: (key: string) => Promise<void> | undefined
  readonly bom: boolean
  readonly lineEnding: '\n' | '\r\n'
}

/** Output is handed to the file in pieces of about this many characters. */
const FLUSH_AT = 512 * 1024

/**
 * Applies a batch of ops to a CSV file by writing the whole file anew into `out`: rows the
 * ops do not touch are copied, updated rows stay where they were, deleted ones are left
 * out, new ones are appended in op order. Memory holds the batch and one piece of output,
 * whatever the file's size. Returns one result per op; per-op problems (a key that exists
 * for a create, a missing record for an update, a missing required value) are results.
 */
export class CsvBatch {
  readonly #type: CsvRecordType
  readonly #planned: (PlannedOp | WriteResult)[]
  readonly #byKey = new Map<string, PlannedOp[]>()
  readonly #states = new Map<string, KeyState>()
  readonly #results: (WriteResult | undefined)[]
  readonly #keyAt: readonly number[]
  readonly #required: readonly number[]
  /** The column of the generated key, or -1. */
  readonly #generatedAt: number
  #maxGenerated = 0n

  constructor(type: CsvRecordType, ops: readonly WriteOp[]) {
    this.#type = type
    this.#results = new Array(ops.length)
    const at = new Map(type.fields.map((f, i) => [f.name, i]))
    this.#keyAt = type.keyFields.map((k) => at.get(k)!)
    this.#required = type.fields.flatMap((f, i) => (f.nullable ? [] : [i]))
    this.#generatedAt = type.generated ? at.get(type.generated)! : -1
    this.#planned = ops.map((op, index) => {
      try {
        return this.#plan(op, index, at)
      } catch (error) {
        if (!isOpenSyncError(error)) throw error
        return { ok: false, error }
      }
    })
    for (const p of this.#planned) {
      if ('ok' in p) continue
      if (p.key === undefined) continue
      const list = this.#byKey.get(p.key)
      if (list) list.push(p)
      else this.#byKey.set(p.key, [p])
      this.#noteGenerated(p.key)
    }
  }

  /** True when no op can change the file (every one was refused up front). */
  get empty(): boolean {
    return this.#planned.every((p) => 'ok' in p)
  }

  /** The decoder of each column for the scan: key columns checked, the rest passed through. */
  decoders(): CellDecoder[] {
    return this.#type.codecs.map((codec, i) =>
      this.#keyAt.includes(i) || i === this.#generatedAt
        ? (cell) => {
            codec.read(cell)
            return cell
          }
        : (cell) => cell,
    )
  }

  /** Writes the new file: header, old rows with the ops applied, new rows. */
  async write(out: FileHandle, old: OldFile | undefined, format: CsvFormat): Promise<void> {
    const lineEnding = old?.lineEnding ?? format.lineEnding
    const formatter = new CsvFormatter(format, lineEnding)
    let chunk = (old ? old.bom : format.bom) ? '\uFEFF' : ''
    chunk += formatter.line(this.#type.fields.map((f) => f.name))
    const flush = async (force: boolean) => {
      if (chunk.length < FLUSH_AT && !force) return
      await out.write(Buffer.from(chunk, format.encoding))
      chunk = ''
    }
    const keyAt = this.#keyAt
    const touched = this.#byKey
    if (old) {
      for await (const row of old.rows) {
        const key =
          keyAt.length === 1 ? this.#keyText(row, keyAt[0]!) : this.#compositeKey(row, keyAt)
        const check = old.seen?.(key)
        if (check) await check
        if (this.#generatedAt >= 0) this.#noteGeneratedCell(row[this.#generatedAt] ?? null)
        const ops = touched.get(key)
        if (ops) {
          const state: KeyState = { row, inFile: true }
          this.#states.set(key, state)
          for (const p of ops) this.#apply(p, state)
          if (state.row) chunk += formatter.line(state.row)
        } else {
          chunk += formatter.line(row)
        }
        await flush(false)
      }
    }
    // Ops on keys the file does not have, and creates whose key is generated, in op order.
    for (const p of this.#planned) {
      if ('ok' in p || this.#results[p.index]) continue
      if (p.key === undefined) {
        const id = ++this.#maxGenerated
        p.key = String(id)
        const cells = [...(p.cells ?? [])]
        cells[this.#keyAt[0]!] = String(id)
        const state: KeyState = { row: null, inFile: false }
        this.#states.set(p.key, state)
        this.#apply({ ...p, cells }, state)
        continue
      }
      let state = this.#states.get(p.key)
      if (!state) {
        state = { row: null, inFile: false }
        this.#states.set(p.key, state)
      }
      this.#apply(p, state)
    }
    const appended = new Set<string>()
    for (const p of this.#planned) {
      if ('ok' in p || p.key === undefined || appended.has(p.key)) continue
      const state = this.#states.get(p.key)!
      if (state.inFile || !state.row) continue
      appended.add(p.key)
      chunk += formatter.line(state.row)
      await flush(false)
    }
    await flush(true)
  }

  /** One result per op, in op order (after {@link write}). */
  results(): WriteResult[] {
    return this.#planned.map((p, i) => ('ok' in p ? p : this.#results[i]!))
  }

  #apply(p: PlannedOp, state: KeyState): void {
    this.#results[p.index] = this.#outcome(p, state)
  }

  /** Applies one op to a key's state; its result. */
  #outcome(p: PlannedOp, state: KeyState): WriteResult {
    const type = this.#type
    const ok = (): WriteResult => ({ ok: true, key: p.key! })
    const refuse = (
      code: 'OSY_CONSTRAINT_VIOLATION' | 'OSY_RECORD_NOT_FOUND',
      message: string,
    ): WriteResult => ({
      ok: false,
      error: new OpenSyncError(code, `"${type.name}": ${message}`, {
        details: { recordType: type.name },
      }),
    })
    switch (p.op) {
      case 'delete':
        state.row = null
        return ok()
      case 'create':
        if (state.row)
          return refuse('OSY_CONSTRAINT_VIOLATION', `a record with key ${p.key} exists`)
        break
      case 'update':
        if (!state.row) return refuse('OSY_RECORD_NOT_FOUND', `no record with key ${p.key}`)
        break
      case 'upsert':
        break
    }
    const next: Cells = state.row ? [...state.row] : type.fields.map(() => null)
    const cells = p.cells!
    for (let i = 0; i < next.length; i++) if (cells[i] !== undefined) next[i] = cells[i]!
    for (const i of this.#required) {
      if (next[i] === null) {
        return refuse(
          'OSY_CONSTRAINT_VIOLATION',
          `field "${type.fields[i]!.name}" needs a value (it is declared nullable: false)`,
        )
      }
    }
    state.row = next
    return ok()
  }

  /** Checks one op against the type and turns its values into cells. */
  #plan(op: WriteOp, index: number, at: ReadonlyMap<string, number>): PlannedOp {
    const type = this.#type
    if (op.op === 'delete' || op.op === 'update') {
      const key = this.#canonicalKey(op.key)
      if (op.op === 'delete') return { index, op: op.op, key }
      const cells = this.#cells(op.values, at)
      for (const i of this.#keyAt) {
        const cell = cells[i]
        if (cell !== undefined && this.#canonicalPart(cell, i) !== this.#keyPart(key, i)) {
          throw new OpenSyncError(
            'OSY_UNSUPPORTED',
            `"${type.name}": an update cannot change key field "${type.fields[i]!.name}"`,
            { details: { recordType: type.name, field: type.fields[i]!.name } },
          )
        }
      }
      return { index, op: op.op, key, cells }
    }
    const cells = this.#cells(op.values, at)
    const parts: Value[] = []
    for (const i of this.#keyAt) {
      const cell = cells[i]
      if (cell === undefined || cell === null) {
        if (
          op.op === 'create' &&
          type.fields[i]!.name === type.generated &&
          this.#keyAt.length === 1
        )
          return { index, op: op.op, cells }
        throw new OpenSyncError(
          'OSY_CONSTRAINT_VIOLATION',
          `"${type.name}": key field "${type.fields[i]!.name}" needs a value`,
          { details: { recordType: type.name, field: type.fields[i]!.name } },
        )
      }
      parts.push(type.codecs[i]!.read(cell))
    }
    return { index, op: op.op, key: encodeKey(parts), cells }
  }

  #cells(values: Readonly<Record<string, Value>>, at: ReadonlyMap<string, number>) {
    const type = this.#type
    const cells: (string | null | undefined)[] = new Array(type.fields.length)
    const latin1 = type.spec.format.encoding === 'latin1'
    for (const name of Object.keys(values)) {
      const i = at.get(name)
      if (i === undefined) {
        throw new OpenSyncError('OSY_FIELD_NOT_FOUND', `"${type.name}" has no field "${name}"`, {
          details: { recordType: type.name, field: name },
        })
      }
      const cell = type.codecs[i]!.write(values[name] ?? null)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: every character Latin-1 has
      if (latin1 && cell !== null && /[^\u0000-\u00ff]/.test(cell)) {
        throw new OpenSyncError(
          'OSY_WRONG_TYPE',
          `field "${name}" holds characters that ${type.spec.file} (Latin-1) cannot store`,
          { details: { recordType: type.name, field: name } },
        )
      }
      cells[i] = cell
    }
    return cells
  }

  /** An op's key in the form keys read from the file have; a key no row can have fails. */
  #canonicalKey(key: string): string {
    const arity = this.#keyAt.length
    let parts: string[]
    try {
      parts = decodeKey(key, arity)
    } catch {
      throw new OpenSyncError('OSY_RECORD_NOT_FOUND', `"${this.#type.name}": no record ${key}`, {
        details: { recordType: this.#type.name },
      })
    }
    return encodeKey(parts.map((part, n) => this.#readPart(part, this.#keyAt[n]!)))
  }

  #readPart(text: string, column: number): Value {
    try {
      return this.#type.codecs[column]!.read(text)
    } catch {
      throw new OpenSyncError(
        'OSY_RECORD_NOT_FOUND',
        `"${this.#type.name}": no record with ${this.#type.fields[column]!.name} of that form`,
        { details: { recordType: this.#type.name } },
      )
    }
  }

  #canonicalPart(cell: string | null, column: number): string {
    return cell === null ? '' : encodeKey([this.#readPart(cell, column)])
  }

  #keyPart(key: string, column: number): string {
    const n = this.#keyAt.indexOf(column)
    return this.#keyAt.length === 1 ? key : decodeKey(key, this.#keyAt.length)[n]!
  }

  #keyText(row: Cells, column: number): string {
    const cell = row[column] ?? null
    if (cell === null) return ''
    const value = this.#type.codecs[column]!.read(cell)
    return typeof value === 'string' ? value : encodeKey([value])
  }

  #compositeKey(row: Cells, keyAt: readonly number[]): string {
    return encodeKey(keyAt.map((c) => this.#type.codecs[c]!.read(row[c] ?? null) ?? ''))
  }

  #noteGenerated(key: string): void {
    if (!this.#type.generated || this.#keyAt.length !== 1) return
    if (/^-?\d+$/.test(key)) {
      const n = BigInt(key)
      if (n > this.#maxGenerated) this.#maxGenerated = n
    }
  }

  #noteGeneratedCell(cell: string | null): void {
    if (cell && /^[+-]?\d+$/.test(cell)) {
      const n = BigInt(cell)
      if (n > this.#maxGenerated) this.#maxGenerated = n
    }
  }
}
