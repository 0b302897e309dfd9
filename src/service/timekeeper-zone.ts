/**
 * Wall-clock arithmetic in IANA time zones for the timekeeper, on `Intl.DateTimeFormat`
 * alone: Node ships the full time-zone database with ICU, and Temporal is not yet on by
 * default, so a dependency would buy little for the three operations needed here.
 */

/** A calendar date (month 1..12). */
export interface CalendarDate {
  readonly year: number
  readonly month: number
  readonly day: number
}

/** A calendar date and a wall-clock time in some zone. */
export interface WallClock extends CalendarDate {
  readonly hour: number
  readonly minute: number
}

const MS_PER_DAY = 86_400_000

// Building a formatter costs far more than using one; the timekeeper asks the same few zones
// over and over. `undefined` stands for the process's own zone.
const formatters = new Map<string | undefined, Intl.DateTimeFormat>()

function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

/**
 * True for a named IANA zone (`Europe/Berlin`, `UTC`). Intl also takes bare offsets such as
 * `+01:00`; a plan wants a named zone, which follows the zone's daylight-saving rules.
 */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return false
  try {
    formatter(name)
    return true
  } catch {
    return false
  }
}

/** The wall clock (to the second) an instant shows in `timeZone`, as milliseconds of a UTC clock. */
function wallMs(timeZone: string | undefined, instantMs: number): number {
  const parts: Record<string, number> = {}
  for (const part of formatter(timeZone).formatToParts(instantMs)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value)
  }
  return Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  )
}

/** How far `timeZone` is ahead of UTC at an instant, in milliseconds. */
function offsetMs(timeZone: string, instantMs: number): number {
  return wallMs(timeZone, instantMs) - (instantMs - (((instantMs % 1000) + 1000) % 1000))
}

/** The wall clock an instant shows in `timeZone` (the process's zone when undefined). */
export function wallClockAt(instant: Date, timeZone: string | undefined): WallClock {
  const wall = new Date(wallMs(timeZone, instant.getTime()))
  return {
    year: wall.getUTCFullYear(),
    month: wall.getUTCMonth() + 1,
    day: wall.getUTCDate(),
    hour: wall.getUTCHours(),
    minute: wall.getUTCMinutes(),
  }
}

/** The date `days` days after `date` (negative: before). */
export function addDays(date: CalendarDate, days: number): CalendarDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * MS_PER_DAY)
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }
}

/** Whole days from `from` to `to`. */
export function daysBetween(from: CalendarDate, to: CalendarDate): number {
  const ms = Date.UTC(to.year, to.month - 1, to.day) - Date.UTC(from.year, from.month - 1, from.day)
  return Math.round(ms / MS_PER_DAY)
}

/**
 * The instant a wall-clock time happens in `timeZone`, deciding the two cases where the
 * clock is not one-to-one:
 * - the time exists twice (clocks go back): the first occurrence;
 * - the time does not exist (clocks go forward): the first instant after it, which is the
 *   moment of the change itself (02:30 on the day Berlin goes from 02:00 to 03:00 → 03:00).
 */
export function instantOf(wall: WallClock, timeZone: string): Date {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute)
  // A zone changes its offset at most once in any two days, so the offsets a day either
  // side are the only ones the wall time can be read with.
  const before = offsetMs(timeZone, asUtc - MS_PER_DAY)
  const after = offsetMs(timeZone, asUtc + MS_PER_DAY)
  const matches = [asUtc - before, asUtc - after].filter((t) => offsetMs(timeZone, t) === asUtc - t)
  if (matches.length > 0) return new Date(Math.min(...matches))

  // A gap: read with the new offset the time falls before the change, with the old one after
  // it. Bisect to the second of the change (zones change on whole seconds).
  let lo = asUtc - after
  let hi = asUtc - before
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000
    if (offsetMs(timeZone, mid) === after) hi = mid
    else lo = mid
  }
  return new Date(hi)
}
