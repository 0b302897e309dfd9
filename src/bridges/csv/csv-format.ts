/** How the files of a CSV record type are written: separators, quoting, encoding, NULL. */
export interface CsvFormat {
  /** Separates fields: `,` by default; `;` and tab are common. */
  readonly delimiter: string
  /** Encloses fields that hold a delimiter, quote or line break; doubled inside one. */
  readonly quote: string
  readonly encoding: CsvEncoding
  /**
   * The unquoted text that stands for NULL: by default an empty unquoted field, while a
   * quoted empty field (`""`) is the empty string, as PostgreSQL's `COPY … CSV` has it.
   */
  readonly nullValue: string
  /** Files this bridge creates start with a byte-order mark (a rewrite keeps the file's own). */
  readonly bom: boolean
  /** The line ending of files this bridge creates (a rewrite keeps the file's own). */
  readonly lineEnding: '\n' | '\r\n'
}

/** The encodings a CSV file may have; a byte-order mark switches to UTF-16 LE when present. */
export const CSV_ENCODINGS = ['utf8', 'utf16le', 'latin1'] as const
export type CsvEncoding = (typeof CSV_ENCODINGS)[number]

/**
 * Turns rows of cells into CSV text. A field is quoted only when it must be: it holds the
 * delimiter, the quote or a line break, or it would otherwise read as NULL (`""` for the
 * empty string when NULL is the empty field).
 */
export class CsvFormatter {
  readonly #delimiter: string
  readonly #quote: string
  readonly #doubled: string
  readonly #nullValue: string
  readonly #lineEnding: string
  readonly #special: RegExp

  constructor(format: CsvFormat, lineEnding: string = format.lineEnding) {
    this.#delimiter = format.delimiter
    this.#quote = format.quote
    this.#doubled = format.quote + format.quote
    this.#nullValue = format.nullValue
    this.#lineEnding = lineEnding
    const chars = [...new Set([...format.delimiter, format.quote, '\r', '\n'])]
    this.#special = new RegExp(`[${chars.map(escapeClass).join('')}]`)
  }

  /** One line, with its line ending. */
  line(cells: readonly (string | null)[]): string {
    let out = ''
    for (let i = 0; i < cells.length; i++) {
      if (i > 0) out += this.#delimiter
      out += this.cell(cells[i] ?? null)
    }
    return out + this.#lineEnding
  }

  cell(text: string | null): string {
    if (text === null) return this.#nullValue
    if (text === this.#nullValue || this.#special.test(text) || text !== text.trim()) {
      return this.#quote + text.replaceAll(this.#quote, this.#doubled) + this.#quote
    }
    return text
  }
}

function escapeClass(ch: string): string {
  return /[\\\]^-]/.test(ch) ? `\\${ch}` : ch
}
