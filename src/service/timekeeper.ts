/**
 * The timekeeper: when a task runs by itself, worked out from its execution plan and what
 * its last runs did. Pure arithmetic — no clock, no timers, no I/O: `now` is always passed
 * in, so the scheduler, the CLI and the console all get the same answer for the same facts,
 * and tests can pin every instant. User-facing rules: docs/plans.md.
 */
import type { ExecutionPlan } from '../engine/task/resolved-task.ts'
import { OpenSyncError } from '../sdk/index.ts'
import {
  addDays,
  type CalendarDate,
  daysBetween,
  instantOf,
  isTimeZone,
  type WallClock,
  wallClockAt,
} from './timekeeper-zone.ts'

/** What the timekeeper needs to know about a task's runs so far. Every field may be missing. */
export interface ScheduleState {
  /** When the last run (scheduled or manual) started. */
  readonly lastStartedAt?: Date
  /** When the last run ended; before `lastStartedAt` while a run is in progress. */
  readonly lastEndedAt?: Date
  /** The slot (a `dueRun` result) the last scheduled run was started for. */
  readonly lastScheduledFor?: Date
  /** Whether the last run wrote anything; `false` starts the continuous idle back-off. */
  readonly lastRunChanged?: boolean
  /**
   * Runs in a row that changed nothing, the last one included: the service adds one when a
   * run changes nothing and resets it to 0 when one does. Grows the continuous back-off;
   * taken as 1 when missing while `lastRunChanged` is `false`.
   */
  readonly idleRuns?: number
  /**
   * No slot before this instant is due (inclusive). Set it to when the plan took effect —
   * the task was created, its plan changed or it was reactivated — so that slots passed while
   * the plan was off are not made up; or to the next run the service planned and stored
   * earlier, so that the run happens at the time that was shown. Without it, a daily task
   * that never ran is never due: its next time is always the next occurrence after `now`.
   */
  readonly notBefore?: Date
}

/**
 * The idle back-off of a continuous plan. A run that changed nothing delays the next one by
 * `firstMs`; each further idle run in a row multiplies the delay by `factor`, up to `maxMs`
 * (5 s, 10 s, 20 s, 40 s, 60 s, 60 s …). A run that changes something resets it: the next
 * run starts as soon as that one ends. Busy systems are synced without pause, quiet ones
 * are still looked at once a minute.
 */
export const CONTINUOUS_IDLE_BACKOFF = { firstMs: 5_000, factor: 2, maxMs: 60_000 } as const

/** The delay before the next continuous run after `idleRuns` runs in a row changed nothing. */
export function idleBackoffMs(idleRuns: number): number {
  if (idleRuns < 1) return 0
  const { firstMs, factor, maxMs } = CONTINUOUS_IDLE_BACKOFF
  return Math.min(firstMs * factor ** (idleRuns - 1), maxMs)
}

/**
 * When the task should run next by its plan: `undefined` for manual and inactive plans, and
 * for a continuous plan while a run is in progress (its end decides the next). A result at
 * or before `now` means the task is due: `dueRun` says which slot to run.
 *
 * - interval: the last scheduled slot plus the period, however long that run took, so the
 *   slots do not drift; at once when the task never ran.
 * - continuous: when the last run ended, plus the idle back-off if it changed nothing.
 * - daily: the next occurrence of the wall-clock time strictly after the last scheduled
 *   slot (or after `now` when there is none); see `nextDaily` for daylight-saving days.
 *
 * None is earlier than `state.notBefore`.
 *
 * Throws OSY_INVALID_TASK for a plan with a bad time zone, time or period.
 */
export function nextRun(plan: ExecutionPlan, state: ScheduleState, now: Date): Date | undefined {
  assertValidPlan(plan)
  if (!plan.active) return undefined
  switch (plan.kind) {
    case 'manual':
      return undefined
    case 'continuous':
      return nextContinuous(state, now)
    case 'interval': {
      // A task run only by hand so far counts its period from that run.
      const last = state.lastScheduledFor ?? state.lastStartedAt
      if (!last) return state.notBefore ?? now
      return latest(new Date(last.getTime() + periodMs(plan)), state.notBefore)
    }
    case 'daily':
      return nextDaily(plan.at, plan.timezone, state, now)
  }
}

/**
 * The slot that is due at `now`, or `undefined` when nothing is. A service that was down
 * across several slots runs once, for the latest missed one: an interval skips whole
 * periods so that the slot after it is in the future; a daily plan takes the most recent
 * occurrence. The service records the result as `lastScheduledFor` when it starts the run;
 * `nextRun` is then after `now`.
 */
export function dueRun(plan: ExecutionPlan, state: ScheduleState, now: Date): Date | undefined {
  const next = nextRun(plan, state, now)
  if (!next || next > now) return undefined
  switch (plan.kind) {
    case 'interval': {
      const period = periodMs(plan)
      const missed = Math.floor((now.getTime() - next.getTime()) / period)
      return new Date(next.getTime() + missed * period)
    }
    case 'daily':
      return previousDaily(plan.at, plan.timezone, now)
    default:
      return next
  }
}

/**
 * Checks what the task-file schema checks, for plans that reach the timekeeper another way
 * (the API, a store row). Throws OSY_INVALID_TASK naming the bad value.
 */
export function assertValidPlan(plan: ExecutionPlan): void {
  if (plan.kind === 'interval' && !(Number.isInteger(plan.every) && plan.every > 0)) {
    throw invalidPlan('every', `${plan.every} is not a whole number of ${plan.unit} above 0`)
  }
  if (plan.kind === 'daily') {
    if (!TIME_OF_DAY.test(plan.at)) {
      throw invalidPlan('at', `"${plan.at}" is not a time of day as HH:MM (00:00 to 23:59)`)
    }
    if (!isTimeZone(plan.timezone)) {
      throw invalidPlan(
        'timezone',
        `"${plan.timezone}" is not an IANA time zone such as Europe/Berlin or UTC`,
      )
    }
  }
}

const TIME_OF_DAY = /^(?:[01]\d|2[0-3]):[0-5]\d$/

function invalidPlan(field: string, problem: string): OpenSyncError {
  return new OpenSyncError('OSY_INVALID_TASK', `invalid plan: plan.${field}: ${problem}`, {
    details: { field: `plan.${field}` },
  })
}

function periodMs(plan: { readonly every: number; readonly unit: 'minutes' | 'hours' }): number {
  // Elapsed time, not wall-clock time: "every 1 hour" stays 60 minutes on daylight-saving days.
  return plan.every * (plan.unit === 'minutes' ? 60_000 : 3_600_000)
}

function latest(a: Date, b: Date | undefined): Date {
  return b && b > a ? b : a
}

function nextContinuous(state: ScheduleState, now: Date): Date | undefined {
  const { lastStartedAt, lastEndedAt } = state
  if (lastStartedAt && (!lastEndedAt || lastEndedAt < lastStartedAt)) return undefined
  if (!lastEndedAt) return state.notBefore ?? now
  const idleRuns = state.lastRunChanged === false ? Math.max(state.idleRuns ?? 1, 1) : 0
  return latest(new Date(lastEndedAt.getTime() + idleBackoffMs(idleRuns)), state.notBefore)
}

/**
 * The next occurrence of `at` in `timeZone`: strictly after the last scheduled slot and not
 * before `notBefore`; with neither, strictly after `now`. Each calendar day has exactly one
 * occurrence (see `instantOf`): a time skipped by the spring change runs at the moment of the
 * change, once; a time repeated by the autumn change runs at its first pass, and the second
 * pass is not an occurrence, so it never runs twice.
 */
function nextDaily(at: string, timeZone: string, state: ScheduleState, now: Date): Date {
  const { lastScheduledFor, notBefore } = state
  // Occurrences are ordered, so the later of the first matches satisfies every bound.
  const bounds = [
    lastScheduledFor && occurrenceAfter(at, timeZone, lastScheduledFor, false),
    notBefore && occurrenceAfter(at, timeZone, notBefore, true),
  ].filter((slot) => slot !== undefined)
  if (bounds.length === 0) return occurrenceAfter(at, timeZone, now, false)
  return new Date(Math.max(...bounds.map((slot) => slot.getTime())))
}

function wallAt(date: CalendarDate, at: string): WallClock {
  return { ...date, hour: Number(at.slice(0, 2)), minute: Number(at.slice(3, 5)) }
}

/** The first occurrence of `at` in `timeZone` after `instant` (or at it, when `inclusive`). */
function occurrenceAfter(at: string, timeZone: string, instant: Date, inclusive: boolean): Date {
  const today = wallClockAt(instant, timeZone)
  for (let days = -1; ; days++) {
    const slot = instantOf(wallAt(addDays(today, days), at), timeZone)
    if (slot > instant || (inclusive && slot.getTime() === instant.getTime())) return slot
  }
}

/** The latest occurrence of `at` in `timeZone` at or before `now`. */
function previousDaily(at: string, timeZone: string, now: Date): Date {
  const today = wallClockAt(now, timeZone)
  for (let days = 0; ; days--) {
    const slot = instantOf(wallAt(addDays(today, days), at), timeZone)
    if (slot <= now) return slot
  }
}

// ---------------------------------------------------------------- descriptions

/** The words of one language for plan and schedule descriptions. */
interface Phrases {
  readonly manual: string
  readonly continuous: string
  readonly inactive: (text: string) => string
  readonly every: (count: number, unit: 'minutes' | 'hours') => string
  readonly daily: (at: string, timeZone: string) => string
  readonly notScheduled: string
  readonly now: string
  readonly inSeconds: (count: number) => string
  readonly inMinutes: (count: number) => string
  readonly today: (time: string) => string
  readonly tomorrow: (time: string) => string
  readonly onWeekday: (weekday: string, time: string) => string
  readonly onDate: (date: string, time: string) => string
}

const plural = (count: number, one: string, many: string): string =>
  `${count} ${count === 1 ? one : many}`

// One language for now; another is one more entry, found by its language subtag.
const PHRASES: Readonly<Record<string, Phrases>> = {
  en: {
    manual: 'manually only',
    continuous: 'continuously',
    inactive: (text) => `${text}, inactive`,
    every: (count, unit) => {
      const one = unit === 'minutes' ? 'minute' : 'hour'
      return count === 1 ? `every ${one}` : `every ${count} ${unit}`
    },
    daily: (at, timeZone) => `daily at ${at} (${timeZone})`,
    notScheduled: 'not scheduled',
    now: 'now',
    inSeconds: (count) => `in ${plural(count, 'second', 'seconds')}`,
    inMinutes: (count) => `in ${plural(count, 'minute', 'minutes')}`,
    today: (time) => `today at ${time}`,
    tomorrow: (time) => `tomorrow at ${time}`,
    onWeekday: (weekday, time) => `on ${weekday} at ${time}`,
    onDate: (date, time) => `on ${date} at ${time}`,
  },
}

function phrasesFor(locale: string): Phrases {
  return PHRASES[locale] ?? PHRASES[locale.split('-')[0]!.toLowerCase()] ?? PHRASES.en!
}

/**
 * A short text for a plan, for the CLI and the console: `every 15 minutes`,
 * `daily at 02:30 (Europe/Berlin)`, `continuously`, `manually only`; an inactive plan
 * other than manual ends in `, inactive`. Unknown locales get English.
 */
export function describePlan(plan: ExecutionPlan, locale = 'en'): string {
  const words = phrasesFor(locale)
  let text: string
  switch (plan.kind) {
    case 'manual':
      return words.manual
    case 'continuous':
      text = words.continuous
      break
    case 'interval':
      text = words.every(plan.every, plan.unit)
      break
    case 'daily':
      text = words.daily(plan.at, plan.timezone)
      break
  }
  return plan.active ? text : words.inactive(text)
}

/** Options of `describeNext`. */
export interface DescribeNextOptions {
  /** The zone the reader's clock shows; the process's zone when missing. */
  readonly timeZone?: string
  readonly locale?: string
}

/**
 * When `next` (a `nextRun` result) comes, as a reader would say it: within the hour
 * relative (`in 45 seconds`, `in 4 minutes`), later by the clock in `options.timeZone`
 * (`today at 14:00`, `tomorrow at 02:30`, `on Friday at 02:30`, `on Apr 12 at 02:30`).
 * `now` when it is due, `not scheduled` when there is no next run.
 */
export function describeNext(
  next: Date | undefined,
  now: Date,
  options: DescribeNextOptions = {},
): string {
  const { timeZone, locale = 'en' } = options
  const words = phrasesFor(locale)
  if (!next) return words.notScheduled
  const ms = next.getTime() - now.getTime()
  if (ms <= 0) return words.now
  if (ms < 60_000) return words.inSeconds(Math.ceil(ms / 1000))
  const minutes = Math.round(ms / 60_000)
  if (minutes < 60) return words.inMinutes(minutes)

  const wall = wallClockAt(next, timeZone)
  const today = wallClockAt(now, timeZone)
  const time = `${pad(wall.hour)}:${pad(wall.minute)}`
  const days = daysBetween(today, wall)
  if (days === 0) return words.today(time)
  if (days === 1) return words.tomorrow(time)
  if (days < 7) {
    const weekday = new Intl.DateTimeFormat(locale, { timeZone, weekday: 'long' }).format(next)
    return words.onWeekday(weekday, time)
  }
  const sameYear = wall.year === today.year
  const date = new Intl.DateTimeFormat(locale, {
    timeZone,
    month: 'short',
    day: 'numeric',
    ...(sameYear ? {} : { year: 'numeric' }),
  }).format(next)
  return words.onDate(date, time)
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}
