import type { RecordTypeInfo } from '../../sdk/index.ts'
import type { RestRecordType } from './rest-manifest.ts'
import type { RestFieldInfo } from './rest-values.ts'

/** A record type as a REST connection knows it: the manifest's declaration plus the fields. */
export interface RestType extends RecordTypeInfo {
  readonly fields: readonly RestFieldInfo[]
  readonly spec: RestRecordType
}
