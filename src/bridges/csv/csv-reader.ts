import type { FileHandle } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { CsvError, parse } from 'csv-parse'
import { isOpenSyncError, OpenSyncError, throwIfAborted, type Value } from '../../sdk/index.ts'
import type { CsvFormat } from './csv-format.ts'
import { CellRejected } from './csv-values.ts'

/** Turns one cell of a column into what a row holds; throws {@link CellRejected} for bad text. */
export type CellDecoder = (cell: string | null) => Value

/**
 * Called once per file with its header (`null` for an empty file), before the first row is
 * decoded: returns one decoder per column. Throwing here fails the read with that error.
 */
export type PrepareColumns = (header: readonly string[] | null) => readonly CellDecoder[]

/** Bytes read from the file at a time. */
const CHUNK = 64 * 1024

/**
 * Streams the rows of a CSV file with `csv-parse`, one decoded row (an array in column order)
 * at a time: memory holds one chunk of the file and the rows parsed from it, whatever the
 * file's size. The first record is the header. Every error names the file and the line:
 * `OSY_FILE_PARSE_ERROR` for text that is not CSV or not of a column's declared type.
 *
 * The handle is read from its start and not closed here: a caller that opened it before a
 * rename keeps reading the file it opened, which is what makes a read one snapshot.
 */
export async function* readCsvRows(
  handle: FileHandle,
  file: string,
  format: CsvFormat,
  prepare: PrepareColumns,
  signal?: AbortSignal,
): AsyncGenerator<Value[]> {
  const header: string[] = []
  let decoders: readonly CellDecoder[] | undefined
  const nullValue = format.nullValue
  const parser = parse({
    delimiter: format.delimiter,
    quote: format.quote,
    escape: format.quote,
    encoding: format.encoding,
    bom: true,
    skip_empty_lines: true,
    cast: (value, ctx) => {
      const cell = !ctx.quoting && value === nullValue ? null : value
      if (ctx.records === 0) {
        header[ctx.index] = value
        return cell
      }
      decoders ??= prepare(header)
      const decode = decoders[ctx.index]
      if (!decode) return cell
      try {
        return decode(cell)
      } catch (error) {
        if (!(error instanceof CellRejected)) throw error
        throw new OpenSyncError(
          'OSY_FILE_PARSE_ERROR',
          `${file} line ${ctx.lines}, field "${header[ctx.index] ?? ctx.index + 1}": ${error.message}`,
          { details: { file, line: ctx.lines, field: header[ctx.index] } },
        )
      }
    },
  })
  pipeline(Readable.from(chunksOf(handle, signal), { objectMode: false }), parser, () => {})
  let first = true
  try {
    for await (const record of parser as AsyncIterable<Value[]>) {
      if (first) {
        first = false
        continue
      }
      yield record
    }
  } catch (error) {
    throw parseError(error, file)
  }
  // A file with a header and no rows, or no header at all: the columns are still prepared.
  decoders ??= prepare(first ? null : header)
}

/**
 * The bytes of a file from its start, by positional reads: unlike a file stream, stopping
 * early never closes the handle, which other reads of the same snapshot still use.
 */
async function* chunksOf(handle: FileHandle, signal?: AbortSignal): AsyncGenerator<Buffer> {
  let position = 0
  while (true) {
    throwIfAborted(signal)
    const buffer = Buffer.allocUnsafe(CHUNK)
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, position)
    if (bytesRead === 0) return
    position += bytesRead
    yield bytesRead === CHUNK ? buffer : buffer.subarray(0, bytesRead)
  }
}

/** Reads only the header of a CSV file (`null` when the file is empty). */
export async function readCsvHeader(
  handle: FileHandle,
  file: string,
  format: CsvFormat,
): Promise<string[] | null> {
  let header: string[] | null = null
  const done = new Error('header read')
  try {
    for await (const _ of readCsvRows(handle, file, format, (h) => {
      header = h ? [...h] : null
      throw done
    })) {
      break
    }
  } catch (error) {
    if (error !== done) throw error
  }
  return header
}

/** csv-parse's errors as `OSY_FILE_PARSE_ERROR`, naming the line but not the field's text. */
function parseError(error: unknown, file: string): unknown {
  if (isOpenSyncError(error) || !(error instanceof CsvError)) return error
  const line = (error as CsvError & { lines?: number }).lines
  const reason = REASONS[error.code] ?? `cannot be parsed (${error.code})`
  return new OpenSyncError('OSY_FILE_PARSE_ERROR', `${file} line ${line}: ${reason}`, {
    cause: error,
    details: { file, line, systemCode: error.code },
  })
}

const REASONS: Readonly<Record<string, string>> = {
  CSV_RECORD_INCONSISTENT_FIELDS_LENGTH: 'the number of fields differs from the header',
  CSV_RECORD_INCONSISTENT_COLUMNS: 'the number of fields differs from the header',
  CSV_QUOTE_NOT_CLOSED: 'a quoted field is not closed before the end of the file',
  INVALID_OPENING_QUOTE: 'a quote inside a field that does not start with one',
  CSV_INVALID_CLOSING_QUOTE:
    'a character follows the closing quote of a field (a quote inside a quoted field is written twice)',
  CSV_MAX_RECORD_SIZE: 'a record is too long',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'a character follows the closing quote of a field',
}
