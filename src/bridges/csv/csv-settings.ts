import { z } from 'zod'
import { type FieldType, OpenSyncError } from '../../sdk/index.ts'
import { CSV_ENCODINGS, type CsvFormat } from './csv-format.ts'

const FIELD_TYPES = [
  'string',
  'integer',
  'decimal',
  'float',
  'boolean',
  'date',
  'time',
  'timestamp',
  'timestamptz',
  'binary',
  'json',
  'uuid',
  'other',
] as const satisfies readonly FieldType[]

const fieldType = z.enum(FIELD_TYPES)

/** A column's declaration: its type, or the type with more facts. */
const fieldSchema = z.union([
  fieldType,
  z
    .object({
      type: fieldType.default('string'),
      /** False: a record must have a value (rejected as a constraint violation otherwise). */
      nullable: z.boolean().optional(),
      /** A whole-number key the bridge fills (the highest in the file plus one) when a create has none. */
      generated: z.boolean().optional(),
    })
    .strict(),
])

const formatSchema = {
  delimiter: z.string().min(1).optional(),
  quote: z.string().length(1).optional(),
  encoding: z.enum(CSV_ENCODINGS).optional(),
  nullValue: z.string().optional(),
  bom: z.boolean().optional(),
  lineEnding: z.enum(['lf', 'crlf']).optional(),
}

const recordTypeSchema = z
  .object({
    /** The file in the folder; `<name>.csv` by default (only for a name without `*`). */
    file: z.string().min(1).optional(),
    /** The columns that identify a record, in key order. */
    key: z.array(z.string().min(1)).min(1).optional(),
    /** Declared columns; others are text. */
    fields: z.record(z.string().min(1), fieldSchema).optional(),
    readOnly: z.boolean().optional(),
    ...formatSchema,
  })
  .strict()

/**
 * The CSV bridge's settings (`systems.<key>.settings` of a task): per record type, its file,
 * key, column types and format. A name may hold `*` wildcards (`orders_*`) to describe every
 * file it matches; an exact name wins over a wildcard, and wildcards apply in the order given.
 */
export const csvSettingsSchema = z
  .object({ recordTypes: z.record(z.string().min(1), recordTypeSchema).optional() })
  .strict()

export type CsvSettings = z.infer<typeof csvSettingsSchema>
type RecordTypeSettings = z.infer<typeof recordTypeSchema>

/** A declared column. */
export interface DeclaredField {
  readonly type: FieldType
  readonly nullable?: boolean
  readonly generated?: boolean
}

/** What the bridge knows of one record type before it reads the file's header. */
export interface CsvTypeSpec {
  readonly name: string
  /** The file's name inside the folder. */
  readonly file: string
  readonly format: CsvFormat
  /** The key columns the settings or the connection name; absent when none. */
  readonly key?: readonly string[]
  /** Whether the key comes from the connection's default (used only when the columns exist). */
  readonly defaultKey: boolean
  readonly fields: ReadonlyMap<string, DeclaredField>
  readonly readOnly: boolean
  /** Named exactly in the settings: the type exists before its file does. */
  readonly declared: boolean
}

/** The resolved settings of one connection. */
export class CsvSpecs {
  readonly #exact = new Map<string, RecordTypeSettings>()
  readonly #patterns: { readonly re: RegExp; readonly settings: RecordTypeSettings }[] = []
  readonly #format: CsvFormat
  readonly #key: readonly string[] | undefined

  /** Validates the settings; bad ones throw `OSY_INVALID_CONNECTION` naming the path. */
  constructor(settings: unknown, format: CsvFormat, defaultKey: readonly string[] | undefined) {
    const parsed = csvSettingsSchema.safeParse(settings ?? {})
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      const path = ['settings', ...issue.path.map(String)].join('.')
      throw new OpenSyncError('OSY_INVALID_CONNECTION', `${path}: ${issue.message}`, {
        details: { field: path },
      })
    }
    this.#format = format
    this.#key = defaultKey
    for (const [name, s] of Object.entries(parsed.data.recordTypes ?? {})) {
      const where = `settings.recordTypes.${name}`
      if (name.includes('*')) {
        if (s.file) invalid(`${where}.file`, 'a name with * takes its file from the name')
        checkName(name.replaceAll('*', 'x'), where)
        this.#patterns.push({ re: globRegExp(name), settings: s })
      } else {
        checkName(name, where)
        if (s.file) checkName(s.file, `${where}.file`)
        this.#exact.set(name, s)
      }
      for (const [field, f] of Object.entries(s.fields ?? {})) {
        if (typeof f === 'object' && f.generated && f.type !== 'integer')
          invalid(`${where}.fields.${field}.generated`, 'only integer fields can be generated')
      }
    }
  }

  /** Record types named exactly in the settings, with their files. */
  declared(): CsvTypeSpec[] {
    return [...this.#exact.keys()].map((name) => this.spec(name)!)
  }

  /** The spec of a type name (a file's base name unless declared otherwise). */
  spec(name: string): CsvTypeSpec | undefined {
    const exact = this.#exact.get(name)
    const settings = exact ?? this.#patterns.find((p) => p.re.test(name))?.settings
    if (!exact && !isFileName(name)) return undefined
    return this.#build(name, settings ?? {}, exact !== undefined)
  }

  #build(name: string, s: RecordTypeSettings, declared: boolean): CsvTypeSpec {
    const fields = new Map<string, DeclaredField>()
    for (const [field, f] of Object.entries(s.fields ?? {})) {
      fields.set(field, typeof f === 'string' ? { type: f } : f)
    }
    const key = s.key ?? this.#key
    return {
      name,
      file: s.file ?? `${name}.csv`,
      format: {
        delimiter: s.delimiter ?? this.#format.delimiter,
        quote: s.quote ?? this.#format.quote,
        encoding: s.encoding ?? this.#format.encoding,
        nullValue: s.nullValue ?? this.#format.nullValue,
        bom: s.bom ?? this.#format.bom,
        lineEnding:
          s.lineEnding === undefined
            ? this.#format.lineEnding
            : s.lineEnding === 'crlf'
              ? '\r\n'
              : '\n',
      },
      ...(key && key.length > 0 ? { key } : {}),
      defaultKey: s.key === undefined,
      fields,
      readOnly: s.readOnly === true,
      declared,
    }
  }
}

/** Whether a name can be a file's base name inside the folder: no path, no hidden file. */
function isFileName(name: string): boolean {
  return (
    name.length > 0 &&
    !name.startsWith('.') &&
    !/[/\\]/.test(name) &&
    !name.includes('\u0000') &&
    name !== '..' &&
    name.length <= 200
  )
}

function checkName(name: string, where: string): void {
  if (!isFileName(name)) invalid(where, 'must be a file name inside the folder (no / or leading .)')
}

function invalid(path: string, message: string): never {
  throw new OpenSyncError('OSY_INVALID_CONNECTION', `${path}: ${message}`, {
    details: { field: path },
  })
}

function globRegExp(glob: string): RegExp {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[\\^$.+?()[\]{}|/-]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${source}$`)
}
