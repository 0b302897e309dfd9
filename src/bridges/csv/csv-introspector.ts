import { type FieldInfo, OpenSyncError, type RecordTypeInfo } from '../../sdk/index.ts'
import type { CsvTypeSpec } from './csv-settings.ts'
import { type CellCodec, codecFor } from './csv-values.ts'

/** A CSV record type as a read or write sees it: the file's columns with their codecs. */
export interface CsvRecordType extends RecordTypeInfo {
  readonly spec: CsvTypeSpec
  /** One codec per column, in the file's column order (the order of `fields`). */
  readonly codecs: readonly CellCodec[]
  /** The column the bridge fills on create when a record has no value for it. */
  readonly generated?: string
}

/**
 * Describes a record type from its spec and the file's header (`null`: no file, or an empty
 * one). Columns are the header's, typed where the settings declare them and text otherwise;
 * a type declared with fields but without a file yet has the declared columns.
 */
export function describeType(spec: CsvTypeSpec, header: readonly string[] | null): CsvRecordType {
  const where = `${spec.file}`
  const columns = header ?? (spec.declared ? [...spec.fields.keys()] : [])
  const seen = new Set<string>()
  columns.forEach((name, i) => {
    if (name === '') {
      throw new OpenSyncError(
        'OSY_FILE_PARSE_ERROR',
        `${where} line 1: column ${i + 1} of the header has no name`,
        { details: { file: spec.file, line: 1, recordType: spec.name } },
      )
    }
    if (seen.has(name)) {
      throw new OpenSyncError(
        'OSY_FILE_PARSE_ERROR',
        `${where} line 1: column "${name}" appears twice in the header`,
        { details: { file: spec.file, line: 1, field: name, recordType: spec.name } },
      )
    }
    seen.add(name)
  })
  if (header) {
    for (const name of spec.fields.keys()) {
      if (!seen.has(name)) {
        throw new OpenSyncError(
          'OSY_FIELD_NOT_FOUND',
          `${where}: the settings declare field "${name}", but the header has no such column (columns: ${columns.join(', ')})`,
          { details: { recordType: spec.name, field: name } },
        )
      }
    }
  }
  let keyFields: readonly string[] = []
  if (spec.key) {
    const missing = spec.key.filter((k) => !seen.has(k))
    if (missing.length === 0) keyFields = spec.key
    else if (!spec.defaultKey) {
      throw new OpenSyncError(
        'OSY_FIELD_NOT_FOUND',
        `${where}: key field "${missing[0]}" is not a column (columns: ${columns.join(', ') || 'none'})`,
        { details: { recordType: spec.name, field: missing[0] } },
      )
    }
  }
  const keys = new Set(keyFields)
  let generated: string | undefined
  const fields: FieldInfo[] = columns.map((name) => {
    const declared = spec.fields.get(name)
    if (declared?.generated) generated = name
    return {
      name,
      type: declared?.type ?? 'string',
      nativeType: declared ? `csv ${declared.type}` : 'csv text',
      nullable: declared?.nullable ?? !keys.has(name),
      // Timestamps are read with six fractional digits, always: nothing to round them to.
      ...(declared?.type === 'timestamp' || declared?.type === 'timestamptz' ? { scale: 6 } : {}),
      ...(declared?.generated ? { generated: true } : {}),
    }
  })
  return {
    name: spec.name,
    kind: 'table',
    readOnly: spec.readOnly || keyFields.length === 0,
    fields,
    keyFields,
    cursorCandidates: [],
    spec,
    codecs: fields.map((f) => codecFor(f.type, f.name)),
    ...(generated ? { generated } : {}),
  }
}
