/**
 * Array parameters in PostgreSQL's binary format, the one `array_send` writes and `array_recv`
 * reads: a header, then each element as its byte length and its bytes.
 *
 * node-postgres sends a JS array as text: it quotes and backslash-escapes every element, then
 * measures the joined string, and PostgreSQL parses the escapes back. For a links upsert, whose
 * base state is JSON full of quotes, that was 3 µs per link in node; the binary form takes 0.3
 * µs and PostgreSQL reads it in 60% of the time (docs/store.md). node-postgres sends a Buffer
 * as a binary parameter; the statement casts it (`$1::text[]`), which gives PostgreSQL its type.
 */

const TEXT_OID = 25
const INT4_OID = 23
/** ndim, has-nulls flag, element type, and the one dimension's length and lower bound. */
const HEADER_BYTES = 20

/** A `text[]` parameter. */
export function textArray(values: readonly string[]): Buffer {
  // Sized for the worst case (UTF-8 takes at most 3 bytes per UTF-16 unit), so each string is
  // encoded once, straight into place, and its length written in front of it afterwards.
  let size = HEADER_BYTES
  for (let i = 0; i < values.length; i++) size += 4 + 3 * values[i]!.length
  const buffer = Buffer.allocUnsafe(size)
  let at = writeHeader(buffer, TEXT_OID, values.length, false)
  for (let i = 0; i < values.length; i++) {
    const written = buffer.write(values[i]!, at + 4)
    buffer.writeInt32BE(written, at)
    at += 4 + written
  }
  return buffer.subarray(0, at)
}

/** An `integer[]` parameter; elements may be null. */
export function int4Array(values: readonly (number | null)[]): Buffer {
  const buffer = Buffer.allocUnsafe(HEADER_BYTES + values.length * 8)
  let at = writeHeader(buffer, INT4_OID, values.length, values.includes(null))
  for (const value of values) {
    if (value === null) at = buffer.writeInt32BE(-1, at)
    else at = buffer.writeInt32BE(value, buffer.writeInt32BE(4, at))
  }
  return buffer.subarray(0, at)
}

/** Writes a one-dimensional array's header; returns where the elements start. */
function writeHeader(buffer: Buffer, elementType: number, length: number, nulls: boolean): number {
  // An empty array has no dimensions.
  let at = buffer.writeInt32BE(length === 0 ? 0 : 1, 0)
  at = buffer.writeInt32BE(nulls ? 1 : 0, at)
  at = buffer.writeInt32BE(elementType, at)
  if (length === 0) return at
  at = buffer.writeInt32BE(length, at)
  return buffer.writeInt32BE(1, at)
}
