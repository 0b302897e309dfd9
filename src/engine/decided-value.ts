import { OpenSyncError, type Value } from '../sdk/index.ts'
import type { FieldMapping, ResolvedPair, Side } from './task/resolved-task.ts'

/**
 * A conflict decided by a value (`opensync conflicts resolve <id> --value <json>`): the value
 * is the mapping's as side 0 holds it — side 1's when the pair does not flow from side 0 —
 * and the engine writes it there and, converted by the mapping, on the other side.
 */
export function valueSide(pair: ResolvedPair): Side {
  return pair.flows[0] ? 0 : 1
}

/**
 * The field values a decided value stands for on `side`: for a mapping of one field there,
 * the value itself; for several, an object with exactly those fields. OSY_INVALID_OPTION (a
 * user error) when it has another shape.
 */
export function decidedValues(
  mapping: FieldMapping,
  side: Side,
  value: unknown,
): Record<string, Value> {
  const fields = mapping.fields[side]
  if (fields.length === 1) return { [fields[0]!]: value as Value }
  const given =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, Value>)
      : undefined
  const wanted = [...fields].sort().join(', ')
  if (!given || Object.keys(given).sort().join(', ') !== wanted) {
    throw new OpenSyncError(
      'OSY_INVALID_OPTION',
      `mapping ${mapping.id} has the fields ${wanted}: give the value as a JSON object with exactly those`,
      { details: { field: mapping.id } },
    )
  }
  return { ...given }
}
