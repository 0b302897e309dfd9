import { resolve } from 'node:path'
import {
  type Bridge,
  type BridgeContext,
  type ConnectionValues,
  type FieldSpec,
  OpenSyncError,
  resolveConnectionValues,
  throwIfAborted,
} from '../../sdk/index.ts'
import { CSV_ENCODINGS, type CsvEncoding, type CsvFormat } from './csv-format.ts'

/** The connection form of the CSV bridge: the folder, and the format of its files. */
export const csvConnectionFields: readonly FieldSpec[] = [
  {
    name: 'folder',
    label: 'Folder',
    type: 'path',
    required: true,
    help: 'the folder of the CSV files, one file per record type: customers.csv is record type customers',
  },
  {
    name: 'key',
    label: 'Key columns',
    type: 'string',
    help: 'the columns that identify a record in files the settings do not describe, comma-separated (e.g. id); without a key a file can be read but not written',
  },
  {
    name: 'delimiter',
    label: 'Delimiter',
    type: 'string',
    default: ',',
    help: 'the field separator: , or ; or tab',
  },
  {
    name: 'quote',
    label: 'Quote',
    type: 'string',
    default: '"',
    help: 'encloses fields that hold the delimiter, a quote or a line break',
  },
  {
    name: 'encoding',
    label: 'Encoding',
    type: 'string',
    default: 'utf8',
    help: `one of ${CSV_ENCODINGS.join(', ')}; a file with a byte-order mark is read in its encoding whatever this says`,
  },
  {
    name: 'nullValue',
    label: 'NULL as',
    type: 'string',
    help: 'the unquoted text that stands for NULL; by default an empty unquoted field, while "" is the empty string',
  },
  {
    name: 'bom',
    label: 'Byte-order mark',
    type: 'boolean',
    default: false,
    help: 'start new files with a byte-order mark (Excel wants one for UTF-8); a rewritten file keeps its own',
  },
  {
    name: 'lineEnding',
    label: 'Line ending',
    type: 'string',
    default: 'lf',
    help: 'lf or crlf, for new files; a rewritten file keeps its own',
  },
  {
    name: 'create',
    label: 'Create the folder if missing',
    type: 'boolean',
    default: false,
  },
]

/**
 * The CSV bridge: a folder of CSV files, one per record type, each with a header row. Files
 * are parsed as streams by `csv-parse`, so a file of millions of rows needs no more memory
 * than one batch; there is no change cursor, so the engine finds changes by comparing each
 * run's snapshot with the last. Writes rewrite a file atomically (a temporary file, synced,
 * renamed over the old one). Values stay text unless the settings declare a column's type.
 *
 * @example
 * const conn = await csvBridge.connect({ folder: './exports', key: 'id' }, { log: silentLogger })
 * for await (const batch of conn.read('customers')) console.log(batch.records)
 */
export const csvBridge: Bridge = {
  name: 'csv',
  title: 'CSV files in a folder',
  version: '1.0.0',
  connectionFields: csvConnectionFields,
  filterKinds: ['sql', 'keyValue'],
  capabilities: {
    cursorReads: false,
    keyScan: true,
    upsert: true,
    // A read streams the file it opened; writes replace files by rename, never in place.
    snapshotReads: true,
    enforcesLength: false,
  },
  async connect(values: ConnectionValues, ctx: BridgeContext) {
    throwIfAborted(ctx.signal)
    const v = resolveConnectionValues(csvConnectionFields, values)
    const format = formatOf(v)
    const key = String(v.key ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '')
    const [{ CsvConnection }, { CsvSpecs }] = await Promise.all([
      import('./csv-connection.ts'),
      import('./csv-settings.ts'),
    ])
    return new CsvConnection({
      folder: resolve(String(v.folder)),
      specs: new CsvSpecs(ctx.settings, format, key.length > 0 ? key : undefined),
      create: v.create === true,
      log: ctx.log,
    })
  },
}

function formatOf(v: Readonly<Record<string, string | number | boolean>>): CsvFormat {
  const invalid = (field: string, message: string): never => {
    throw new OpenSyncError('OSY_INVALID_CONNECTION', `connection field "${field}" ${message}`, {
      details: { field },
    })
  }
  const raw = String(v.delimiter)
  const delimiter = raw === 'tab' || raw === '\\t' ? '\t' : raw
  const quote = String(v.quote)
  if (quote.length !== 1) invalid('quote', 'must be one character')
  if (delimiter.includes(quote) || /[\r\n]/.test(delimiter))
    invalid('delimiter', 'must not hold the quote or a line break')
  const encoding = String(v.encoding)
  if (!(CSV_ENCODINGS as readonly string[]).includes(encoding))
    invalid('encoding', `must be one of ${CSV_ENCODINGS.join(', ')}`)
  const lineEnding = String(v.lineEnding)
  if (lineEnding !== 'lf' && lineEnding !== 'crlf') invalid('lineEnding', 'must be lf or crlf')
  const nullValue = String(v.nullValue ?? '')
  if (nullValue.includes(quote) || nullValue.includes(delimiter))
    invalid('nullValue', 'must not hold the quote or the delimiter')
  return {
    delimiter,
    quote,
    encoding: encoding as CsvEncoding,
    nullValue,
    bom: v.bom === true,
    lineEnding: lineEnding === 'crlf' ? '\r\n' : '\n',
  }
}
