import { type FileHandle, mkdir, open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type BridgeConnection,
  type BridgeLogger,
  encodeKey,
  encodeKeyOf,
  filterColumns,
  KeyHashSet,
  OpenSyncError,
  postgresDialect,
  type ReadKeysOptions,
  type ReadOptions,
  type RecordBatch,
  type SourceRecord,
  throwIfAborted,
  type Value,
  type WriteOp,
  type WriteOptions,
  type WriteResult,
} from '../../sdk/index.ts'
import { compileFilter } from '../shared/evaluate-filter.ts'
import { DEFAULT_BATCH_SIZE, fieldLookup, filterExpr, keyedType } from '../shared/read-plan.ts'
import { isTempFile, type ReplaceHooks, replaceFile } from './atomic-file.ts'
import { classifyFileError, typeNotFound } from './csv-errors.ts'
import type { CsvEncoding, CsvFormat } from './csv-format.ts'
import { type CsvRecordType, describeType } from './csv-introspector.ts'
import { type CellDecoder, readCsvHeader, readCsvRows } from './csv-reader.ts'
import type { CsvSpecs, CsvTypeSpec } from './csv-settings.ts'
import { CsvBatch } from './csv-writer.ts'

/** The validated connection values of one folder. */
export interface CsvConnectionOptions {
  readonly folder: string
  readonly specs: CsvSpecs
  /** Make the folder when it is missing. */
  readonly create: boolean
  readonly log: BridgeLogger
  /** Test hooks into the atomic replace of a file. */
  readonly replaceHooks?: ReplaceHooks
}

/** How one read turns a file's rows into records. */
interface ReadShape {
  readonly type: CsvRecordType
  readonly decoders: readonly CellDecoder[]
  /** Columns returned: their indexes, and their names in the same order. */
  readonly outAt: readonly number[]
  readonly outNames: readonly string[]
  /** Columns the filter reads that are not returned. */
  readonly extra: readonly (readonly [number, string])[]
  readonly keyAt: readonly number[]
  readonly filter?: (values: Record<string, Value>) => boolean
}

const skip: CellDecoder = () => null

/**
 * A folder of CSV files, one per record type. Reads stream a file from an open handle, so a
 * read sees the file as it was when the read began, even when a write replaces it meanwhile
 * (writes rename a new file over the old one, never change one in place). Writes rewrite the
 * whole file and run one at a time.
 */
export class CsvConnection implements BridgeConnection {
  readonly #options: CsvConnectionOptions
  #writing: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(options: CsvConnectionOptions) {
    this.#options = options
  }

  async check(): Promise<void> {
    const { folder, create } = this.#options
    try {
      if (create) await mkdir(folder, { recursive: true })
      const s = await stat(folder)
      if (!s.isDirectory()) {
        throw new OpenSyncError('OSY_INVALID_CONNECTION', `${folder} is not a folder`, {
          details: { field: 'folder' },
        })
      }
      await readdir(folder)
    } catch (error) {
      const e = classifyFileError(error, folder)
      if (e.code === 'OSY_UNKNOWN_DATABASE') {
        throw new OpenSyncError(
          'OSY_UNKNOWN_DATABASE',
          `the folder ${folder} does not exist (set create to make it)`,
          { cause: error, details: { field: 'folder' } },
        )
      }
      throw e
    }
  }

  async discover(): Promise<readonly CsvRecordType[]> {
    const { folder, specs, log } = this.#options
    const names = await readdir(folder).catch((error: unknown) => {
      throw classifyFileError(error, folder)
    })
    const declared = specs.declared()
    const claimed = new Set(declared.map((s) => s.file))
    const list: CsvTypeSpec[] = [...declared]
    for (const name of names.sort()) {
      if (claimed.has(name) || isTempFile(name) || !name.toLowerCase().endsWith('.csv')) continue
      const spec = specs.spec(name.slice(0, -4))
      if (spec && spec.file === name) list.push(spec)
    }
    const types: CsvRecordType[] = []
    for (const spec of list) {
      try {
        const handle = await this.#open(spec)
        if (!handle && !spec.declared) continue
        try {
          const header = handle ? await readCsvHeader(handle, this.#path(spec), spec.format) : null
          types.push(describeType(spec, header))
        } finally {
          await handle?.close()
        }
      } catch (error) {
        // One unreadable file must not hide every other type; reading it names the problem.
        log.warn({ recordType: spec.name, error: String(error) }, 'skipping a CSV file')
      }
    }
    return types.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  async *read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    throwIfAborted(options.signal)
    if (options.cursor || options.since) {
      throw new OpenSyncError(
        'OSY_UNSUPPORTED',
        `"${type}": CSV files have no change cursor; leave cursor out, and changes are found by comparing snapshots`,
        { details: { recordType: type } },
      )
    }
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new OpenSyncError(
        'OSY_INVALID_OPTION',
        `batchSize must be a positive integer, not ${batchSize}`,
      )
    }
    const spec = this.#spec(type)
    const file = this.#path(spec)
    const handle = await this.#open(spec)
    let shape: ReadShape | undefined
    const prepare = (header: readonly string[] | null) => {
      shape = readShape(describeType(spec, header), options)
      return shape.decoders
    }
    if (!handle) {
      prepare(null)
      return
    }
    try {
      const seen = new KeyHashSet()
      let records: SourceRecord[] = []
      let row = 0
      for await (const cells of readCsvRows(handle, file, spec.format, prepare, options.signal)) {
        row++
        const s = shape!
        for (const at of s.keyAt) if (cells[at] === null) throw missingKey(spec, s, at, row)
        const key = keyOf(cells, s.keyAt)
        if (!seen.add(key)) await this.#confirmUnique(handle, spec, s, key, row)
        const values: Record<string, Value> = {}
        const { outAt, outNames } = s
        for (let i = 0; i < outAt.length; i++) values[outNames[i]!] = cells[outAt[i]!] ?? null
        if (s.filter) {
          const all = s.extra.length === 0 ? values : { ...values }
          for (const [at, name] of s.extra) all[name] = cells[at] ?? null
          if (!s.filter(all)) continue
        }
        records.push({ key, values })
        if (records.length >= batchSize) {
          yield { records }
          records = []
        }
      }
      if (records.length > 0) yield { records }
    } catch (error) {
      throw classifyFileError(error, file, type)
    } finally {
      await handle.close()
    }
  }

  async *readKeys(type: string, options: ReadKeysOptions = {}): AsyncIterable<readonly string[]> {
    for await (const batch of this.read(type, { ...options, fields: [] })) {
      yield batch.records.map((r) => r.key)
    }
  }

  async write(
    type: string,
    ops: readonly WriteOp[],
    options: WriteOptions = {},
  ): Promise<readonly WriteResult[]> {
    throwIfAborted(options.signal)
    // One rewrite at a time: a second one must start from the file the first one made.
    const run = this.#writing.then(() => this.#write(type, ops))
    this.#writing = run.catch(() => {})
    return run
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#writing
  }

  async #write(type: string, ops: readonly WriteOp[]): Promise<readonly WriteResult[]> {
    if (this.#closed) throw new OpenSyncError('OSY_INTERNAL', 'the CSV connection is closed')
    const spec = this.#spec(type)
    const file = this.#path(spec)
    const handle = await this.#open(spec)
    try {
      const header = handle ? await readCsvHeader(handle, file, spec.format) : null
      const recordType = describeType(spec, header)
      if (recordType.readOnly) {
        const why = spec.readOnly
          ? 'the settings make it read-only'
          : 'it has no key: declare its key columns (settings, or the connection field key)'
        throw new OpenSyncError(
          'OSY_READ_ONLY_RECORD_TYPE',
          `"${type}" can be read but not written: ${why}`,
          { details: { recordType: type } },
        )
      }
      if (ops.length === 0) return []
      const batch = new CsvBatch(recordType, ops)
      if (batch.empty) return batch.results()
      const layout = handle ? await sniffLayout(handle, spec.format) : undefined
      const format: CsvFormat = layout ? { ...spec.format, encoding: layout.encoding } : spec.format
      const seen = new KeyHashSet()
      let row = 0
      await replaceFile(
        file,
        (out) =>
          batch.write(
            out,
            handle && layout
              ? {
                  rows: readCsvRows(handle, file, format, () => batch.decoders()) as AsyncIterable<
                    (string | null)[]
                  >,
                  seen: (key) => {
                    row++
                    if (seen.add(key)) return undefined
                    return this.#confirmUnique(
                      handle,
                      spec,
                      readShape(recordType, { fields: [] }),
                      key,
                      row,
                    )
                  },
                  bom: layout.bom,
                  lineEnding: layout.lineEnding,
                }
              : undefined,
            format,
          ),
        this.#options.replaceHooks,
      )
      return batch.results()
    } catch (error) {
      throw classifyFileError(error, file, type)
    } finally {
      await handle?.close()
    }
  }

  /**
   * A key's hash was seen before in this file: reads the file again to tell a real second
   * row with the key (`OSY_DUPLICATE_KEY`) from two keys that share a hash (nothing).
   */
  async #confirmUnique(
    handle: FileHandle,
    spec: CsvTypeSpec,
    shape: ReadShape,
    key: string,
    upTo: number,
  ): Promise<void> {
    const rows: number[] = []
    let row = 0
    const decoders = shape.type.codecs.map((c, i) => (shape.keyAt.includes(i) ? c.read : skip))
    for await (const cells of readCsvRows(handle, this.#path(spec), spec.format, () => decoders)) {
      if (++row > upTo) break
      if (keyOf(cells, shape.keyAt) === key) rows.push(row)
    }
    if (rows.length < 2) return
    throw new OpenSyncError(
      'OSY_DUPLICATE_KEY',
      `${spec.file}: key ${key} is in data rows ${rows[0]} and ${rows[1]}; a key must identify one row (${shape.type.keyFields.join(', ')})`,
      { details: { recordType: spec.name, file: spec.file, rows: rows.slice(0, 2) } },
    )
  }

  #spec(type: string): CsvTypeSpec {
    const spec = this.#options.specs.spec(type)
    if (!spec) throw typeNotFound(type, this.#options.folder)
    return spec
  }

  #path(spec: CsvTypeSpec): string {
    return join(this.#options.folder, spec.file)
  }

  /** Opens a type's file; undefined when a declared type has no file yet. */
  async #open(spec: CsvTypeSpec): Promise<FileHandle | undefined> {
    try {
      return await open(this.#path(spec), 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw classifyFileError(error, this.#path(spec), spec.name)
      if (spec.declared && spec.fields.size > 0) return undefined
      // The folder itself may be gone: say so rather than blame the type.
      await stat(this.#options.folder).catch((e: unknown) => {
        throw classifyFileError(e, this.#options.folder)
      })
      throw typeNotFound(spec.name, this.#options.folder, error)
    }
  }
}

/** Validates a read's options against the type and picks the columns to decode. */
function readShape(type: CsvRecordType, options: ReadOptions): ReadShape {
  const keyed = keyedType(type, options.keyFields)
  if (keyed.keyFields.length === 0) {
    throw new OpenSyncError(
      'OSY_UNSUPPORTED',
      `record type "${type.name}" has no primary key, so its records cannot be told apart: name the fields that identify a record (keyFields)`,
      { details: { recordType: type.name } },
    )
  }
  const field = fieldLookup(type)
  const at = new Map(type.fields.map((f, i) => [f.name, i]))
  const wanted = new Set(options.fields ? options.fields.map((n) => field(n).name) : at.keys())
  for (const k of keyed.keyFields) wanted.add(k)
  const expr = options.filter ? filterExpr(options.filter, postgresDialect, type.fields) : undefined
  const filterFields = expr ? filterColumns(expr) : new Set<string>()
  const decoded = new Set([...wanted, ...filterFields])
  const out = type.fields.filter((f) => wanted.has(f.name)).map((f) => f.name)
  const extra = [...filterFields].filter((n) => !wanted.has(n)).map((n) => [at.get(n)!, n] as const)
  return {
    type: keyed,
    decoders: type.codecs.map((c, i) => (decoded.has(type.fields[i]!.name) ? c.read : skip)),
    outAt: out.map((name) => at.get(name)!),
    outNames: out,
    extra,
    keyAt: keyed.keyFields.map((k) => at.get(k)!),
    ...(expr ? { filter: compileFilter(expr, type.fields) } : {}),
  }
}

function missingKey(spec: CsvTypeSpec, shape: ReadShape, at: number, row: number): OpenSyncError {
  const field = shape.type.fields[at]!.name
  return new OpenSyncError(
    'OSY_FILE_PARSE_ERROR',
    `${spec.file}: data row ${row} has no value for key field "${field}"`,
    { details: { recordType: spec.name, file: spec.file, field, row } },
  )
}

function keyOf(cells: readonly Value[], keyAt: readonly number[]): string {
  if (keyAt.length === 1) {
    const v = cells[keyAt[0]!] ?? null
    return typeof v === 'string' ? v : v === null ? '' : encodeKeyOf(v)
  }
  return encodeKey(keyAt.map((c) => cells[c] ?? ''))
}

/** The byte-order mark, encoding and line ending a file has, so a rewrite keeps them. */
async function sniffLayout(
  handle: FileHandle,
  format: CsvFormat,
): Promise<{ bom: boolean; encoding: CsvEncoding; lineEnding: '\n' | '\r\n' }> {
  const { buffer, bytesRead } = await handle.read(Buffer.alloc(64 * 1024), 0, 64 * 1024, 0)
  const head = buffer.subarray(0, bytesRead)
  const utf16 = head[0] === 0xff && head[1] === 0xfe
  const utf8 = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf
  const encoding: CsvEncoding = utf16 ? 'utf16le' : utf8 ? 'utf8' : format.encoding
  const text = head.toString(encoding)
  const nl = text.indexOf('\n')
  const lineEnding = nl < 0 ? format.lineEnding : nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n'
  return { bom: utf16 || utf8, encoding, lineEnding }
}
