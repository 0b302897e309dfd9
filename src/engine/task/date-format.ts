/**
 * Date and time formats of the `type` transform step: a small token set (`YYYY MM DD HH mm
 * ss`) between literal separators, enough for the text dates systems actually hold
 * (`DD.MM.YYYY`, `MM/DD/YYYY`, `YYYYMMDD`) without pulling in a date library.
 */

/** The tokens a format may use. */
export const FORMAT_TOKENS = ['YYYY', 'MM', 'DD', 'HH', 'mm', 'ss'] as const

/** One token of a format. */
export type FormatToken = (typeof FORMAT_TOKENS)[number]

/** A checked format, ready to parse and print values. */
export interface DateFormat {
  /** The format as written. */
  readonly text: string
  /** Whether the format has an hour, minute or second. */
  readonly hasTime: boolean
  /** Whether the format has a year, month and day, so text in it can become a date. */
  readonly hasDate: boolean
  readonly parts: readonly (FormatToken | { readonly literal: string })[]
  readonly pattern: RegExp
}

/** The fields of a date or timestamp; `fraction` is six digits (microseconds). */
export interface DateParts {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hour: number
  readonly minute: number
  readonly second: number
  readonly fraction: string
}

// Letters that start a token; alone or in the wrong count they are a typo, not a literal.
const TOKEN_LETTERS = new Set(['Y', 'M', 'D', 'H', 'm', 's'])

/** Checks and compiles a format, or returns why it is not one. */
export function parseFormat(text: string): DateFormat | string {
  const parts: (FormatToken | { literal: string })[] = []
  const seen = new Set<FormatToken>()
  let i = 0
  while (i < text.length) {
    const token = FORMAT_TOKENS.find((t) => text.startsWith(t, i))
    if (token) {
      if (seen.has(token)) return `uses ${token} twice`
      seen.add(token)
      parts.push(token)
      i += token.length
      continue
    }
    const char = text[i]!
    if (TOKEN_LETTERS.has(char)) {
      return `has "${char}" where a token is expected; tokens are ${FORMAT_TOKENS.join(', ')}`
    }
    const last = parts.at(-1)
    if (last && typeof last === 'object') last.literal += char
    else parts.push({ literal: char })
    i += 1
  }
  if (seen.size === 0) return `has no token; tokens are ${FORMAT_TOKENS.join(', ')}`
  let source = '^'
  parts.forEach((part, index) => {
    if (typeof part === 'object') source += escapeRegExp(part.literal)
    else if (part === 'YYYY') source += '(\\d{4})'
    // One or two digits (`1.3.2024`) unless another token follows directly (`YYYYMMDD`).
    else source += typeof parts[index + 1] === 'string' ? '(\\d{2})' : '(\\d{1,2})'
  })
  return {
    text,
    hasTime: seen.has('HH') || seen.has('mm') || seen.has('ss'),
    hasDate: seen.has('YYYY') && seen.has('MM') && seen.has('DD'),
    parts,
    pattern: new RegExp(`${source}$`),
  }
}

/** Reads text written in `format`; undefined when it does not match or is no real date. */
export function parseWithFormat(format: DateFormat, text: string): DateParts | undefined {
  const found = format.pattern.exec(text.trim())
  if (!found) return undefined
  const values: Partial<Record<FormatToken, number>> = {}
  let group = 1
  for (const part of format.parts) {
    if (typeof part === 'string') values[part] = Number(found[group++])
  }
  return checkedParts({
    year: values.YYYY ?? 1970,
    month: values.MM ?? 1,
    day: values.DD ?? 1,
    hour: values.HH ?? 0,
    minute: values.mm ?? 0,
    second: values.ss ?? 0,
    fraction: '000000',
  })
}

/** Writes date parts in `format`. */
export function formatParts(format: DateFormat, parts: DateParts): string {
  const values: Record<FormatToken, number> = {
    YYYY: parts.year,
    MM: parts.month,
    DD: parts.day,
    HH: parts.hour,
    mm: parts.minute,
    ss: parts.second,
  }
  return format.parts
    .map((part) =>
      typeof part === 'object'
        ? part.literal
        : String(values[part]).padStart(part === 'YYYY' ? 4 : 2, '0'),
    )
    .join('')
}

const CANONICAL = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?Z?)?$/

/**
 * Reads a date (`YYYY-MM-DD`) or timestamp in the canonical form of the value model; a
 * space for `T`, missing seconds and a trailing `Z` are accepted, as databases print them.
 */
export function parseCanonical(text: string): DateParts | undefined {
  const m = CANONICAL.exec(text.trim())
  if (!m) return undefined
  return checkedParts({
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4] ?? 0),
    minute: Number(m[5] ?? 0),
    second: Number(m[6] ?? 0),
    fraction: (m[7] ?? '').slice(0, 6).padEnd(6, '0'),
  })
}

/** The canonical date text `YYYY-MM-DD`. */
export function canonicalDate(p: DateParts): string {
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`
}

/** The canonical timestamp text `YYYY-MM-DDTHH:MM:SS.ffffff`. */
export function canonicalTimestamp(p: DateParts): string {
  return `${canonicalDate(p)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}.${p.fraction}`
}

function checkedParts(p: DateParts): DateParts | undefined {
  if (p.month < 1 || p.month > 12 || p.day < 1) return undefined
  if (p.day > daysInMonth(p.year, p.month)) return undefined
  if (p.hour > 23 || p.minute > 59 || p.second > 59) return undefined
  return p
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}
