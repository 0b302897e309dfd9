import { type CheckpointValue, type FieldType, OpenSyncError } from '../../sdk/index.ts'

/**
 * The start of the lag window: the checkpoint's cursor value moved back by `lag` (seconds
 * for time cursors, units for numeric ones), in the canonical value form of the field type.
 */
export function lagWindowStart(
  value: CheckpointValue,
  type: FieldType,
  lag: number,
): CheckpointValue {
  if (value === null || lag <= 0) return value
  switch (type) {
    case 'timestamp':
    case 'timestamptz':
      return shiftTimestamp(String(value), lag, type === 'timestamptz')
    case 'date': {
      const d = new Date(`${String(value)}T00:00:00Z`)
      d.setUTCDate(d.getUTCDate() - Math.ceil(lag / 86_400))
      return d.toISOString().slice(0, 10)
    }
    case 'integer':
      if (typeof value === 'string') return (BigInt(value) - BigInt(Math.ceil(lag))).toString()
      return Number(value) - Math.ceil(lag)
    case 'decimal':
    case 'float':
      return Number(value) - lag
    default:
      throw new OpenSyncError(
        'OSY_INVALID_CHECKPOINT',
        `a ${type} field cannot be a cursor with a lag window`,
      )
  }
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z?)$/

/** Moves a canonical timestamp back by `seconds`, keeping microseconds exact. */
function shiftTimestamp(text: string, seconds: number, zoned: boolean): string {
  const m = TIMESTAMP.exec(text)
  if (!m) throw new OpenSyncError('OSY_INVALID_CHECKPOINT', `not a canonical timestamp: ${text}`)
  const micros =
    BigInt(Date.parse(`${m[1]}T${m[2]}Z`)) * 1000n + BigInt((m[3] ?? '').padEnd(6, '0'))
  const shifted = micros - BigInt(Math.round(seconds * 1_000_000))
  return formatMicros(shifted) + (zoned ? 'Z' : '')
}

/** Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC wall clock). */
export function formatMicros(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n)
  const frac = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n
  const iso = new Date(Number(ms)).toISOString()
  return `${iso.slice(0, 19)}.${frac.toString().padStart(6, '0')}`
}
