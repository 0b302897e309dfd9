/**
 * A complete, small OpenSync bridge: each record type is a JSON file in a folder, holding
 * an array of objects with an `id` field. It is the example of docs/bridges.md — copy it to
 * start a bridge of your own. It takes key-value filters only and reads in key order.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Bridge,
  type BridgeConnection,
  encodeKey,
  type FieldType,
  OpenSyncError,
  type ReadOptions,
  type RecordBatch,
  type RecordTypeInfo,
  resolveConnectionValues,
  type Value,
  type WriteOp,
  type WriteResult,
} from '../../src/sdk/index.ts'

type Row = Record<string, Value>

class JsonFileConnection implements BridgeConnection {
  readonly #folder: string
  constructor(folder: string) {
    this.#folder = folder
  }

  async check(): Promise<void> {
    await readdir(this.#folder).catch((cause) => {
      throw new OpenSyncError('OSY_UNKNOWN_DATABASE', `folder ${this.#folder} cannot be read`, { cause })
    })
  }

  async discover(): Promise<RecordTypeInfo[]> {
    const files = (await readdir(this.#folder)).filter((f) => f.endsWith('.json'))
    const types: RecordTypeInfo[] = []
    for (const file of files) {
      const rows = await this.#load(file.slice(0, -5))
      const names = [...new Set(rows.flatMap((r) => Object.keys(r)))]
      types.push({
        name: file.slice(0, -5),
        kind: 'table',
        readOnly: false,
        keyFields: ['id'],
        cursorCandidates: [],
        fields: names.map((name) => ({ name, type: typeOf(rows.find((r) => r[name] != null)?.[name]), nativeType: 'json', nullable: name !== 'id' })),
      })
    }
    return types
  }

  async *read(type: string, options: ReadOptions = {}): AsyncIterable<RecordBatch> {
    const filter = options.filter
    if (filter && !('keyValue' in filter)) {
      throw new OpenSyncError('OSY_INVALID_FILTER', 'the JSON file bridge takes key-value filters only')
    }
    const rows = (await this.#load(type))
      .filter((r) => !filter || Object.entries(filter.keyValue).every(([k, v]) => r[k] === v))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)))
    const size = options.batchSize ?? 1000
    for (let i = 0; i < rows.length; i += size) {
      yield { records: rows.slice(i, i + size).map((values) => ({ key: encodeKey([values.id ?? null]), values })) }
    }
  }

  async write(type: string, ops: readonly WriteOp[]): Promise<WriteResult[]> {
    const rows = new Map((await this.#load(type)).map((r) => [String(r.id), r]))
    const results = ops.map((op): WriteResult => {
      if (op.op === 'delete') {
        rows.delete(op.key)
        return { ok: true, key: op.key }
      }
      if (op.op === 'update') {
        const row = rows.get(op.key)
        if (!row) return { ok: false, error: new OpenSyncError('OSY_RECORD_NOT_FOUND', `no record ${op.key}`) }
        rows.set(op.key, { ...row, ...op.values })
        return { ok: true, key: op.key }
      }
      const id = String(op.values.id ?? crypto.randomUUID())
      if (op.op === 'create' && rows.has(id)) {
        return { ok: false, error: new OpenSyncError('OSY_CONSTRAINT_VIOLATION', `record ${id} exists`) }
      }
      rows.set(id, { ...rows.get(id), ...op.values, id })
      return { ok: true, key: id }
    })
    // Write a new file and rename it over the old one, so a crash never leaves half a file.
    const file = join(this.#folder, `${type}.json`)
    await writeFile(`${file}.tmp`, JSON.stringify([...rows.values()], null, 2))
    await rename(`${file}.tmp`, file)
    return results
  }

  async close(): Promise<void> {}

  async #load(type: string): Promise<Row[]> {
    try {
      return JSON.parse(await readFile(join(this.#folder, `${type}.json`), 'utf8')) as Row[]
    } catch (cause) {
      throw new OpenSyncError('OSY_RECORD_TYPE_NOT_FOUND', `no record type "${type}" (${type}.json)`, { cause })
    }
  }
}

function typeOf(value: Value | undefined): FieldType {
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float'
  if (typeof value === 'boolean') return 'boolean'
  if (value !== null && typeof value === 'object') return 'json'
  return 'string'
}

/** The bridge object: export it as the module's default export. */
const jsonFileBridge: Bridge = {
  name: 'json-file',
  title: 'JSON files in a folder',
  version: '1.0.0',
  connectionFields: [{ name: 'folder', label: 'Folder', type: 'path', required: true }],
  filterKinds: ['keyValue'],
  capabilities: {},
  async connect(values) {
    const { folder } = resolveConnectionValues(this.connectionFields, values)
    await mkdir(String(folder), { recursive: true })
    return new JsonFileConnection(String(folder))
  },
}

export default jsonFileBridge
