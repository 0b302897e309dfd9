/**
 * The timekeeper's arithmetic at fixed instants: every expected time below was worked out by
 * hand from the zones' published rules (Berlin changes at 01:00 UTC on the last Sundays of
 * March and October, New York at 02:00 local on the second Sunday of March and the first of
 * November, Lord Howe by 30 minutes at 02:00 local on the first Sundays of October and April).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ExecutionPlan } from '../../src/engine/task/resolved-task.ts'
import { OpenSyncError } from '../../src/sdk/index.ts'
import {
  CONTINUOUS_IDLE_BACKOFF,
  describeNext,
  describePlan,
  dueRun,
  nextRun,
  type ScheduleState,
} from '../../src/service/timekeeper.ts'

const t = (iso: string): Date => new Date(iso)
const iso = (date: Date | undefined): string | undefined => date?.toISOString()

const manual: ExecutionPlan = { kind: 'manual', active: true }
const continuous: ExecutionPlan = { kind: 'continuous', active: true }
const every = (n: number, unit: 'minutes' | 'hours'): ExecutionPlan => ({
  kind: 'interval',
  every: n,
  unit,
  active: true,
})
const daily = (at: string, timezone: string): ExecutionPlan => ({
  kind: 'daily',
  at,
  timezone,
  active: true,
})

/** The slots a daily plan runs in `[from, to]`, following its own nextRun from `from`. */
function slots(plan: ExecutionPlan, from: string, to: string): string[] {
  const out: string[] = []
  let state: ScheduleState = { notBefore: t(from) }
  for (;;) {
    const next = nextRun(plan, state, t(from))!
    if (next > t(to)) return out
    out.push(next.toISOString())
    state = { ...state, lastScheduledFor: next }
  }
}

describe('interval plans', () => {
  it('run at once when the task never ran', () => {
    const now = t('2026-05-10T10:03:00Z')
    expect(iso(nextRun(every(15, 'minutes'), {}, now))).toBe('2026-05-10T10:03:00.000Z')
    expect(iso(dueRun(every(15, 'minutes'), {}, now))).toBe('2026-05-10T10:03:00.000Z')
  })

  it('count from the last scheduled slot, not from when the run ended', () => {
    const state = {
      lastScheduledFor: t('2026-05-10T10:00:00Z'),
      lastStartedAt: t('2026-05-10T10:00:02Z'),
      lastEndedAt: t('2026-05-10T10:07:41Z'),
    }
    const now = t('2026-05-10T10:08:00Z')
    expect(iso(nextRun(every(15, 'minutes'), state, now))).toBe('2026-05-10T10:15:00.000Z')
    expect(dueRun(every(15, 'minutes'), state, now)).toBeUndefined()
    expect(iso(nextRun(every(2, 'hours'), state, now))).toBe('2026-05-10T12:00:00.000Z')
  })

  it('keep their slots when a run takes longer than the period', () => {
    const plan = every(15, 'minutes')
    const state = { lastScheduledFor: t('2026-05-10T10:00:00Z') }
    const now = t('2026-05-10T10:20:00Z') // the 10:00 run just ended
    expect(iso(nextRun(plan, state, now))).toBe('2026-05-10T10:15:00.000Z')
    expect(iso(dueRun(plan, state, now))).toBe('2026-05-10T10:15:00.000Z')
    const after = { lastScheduledFor: t('2026-05-10T10:15:00Z') }
    expect(iso(nextRun(plan, after, now))).toBe('2026-05-10T10:30:00.000Z')
  })

  it('count elapsed hours across a daylight-saving change', () => {
    // Berlin springs forward at 01:00 UTC on 2026-03-29; an interval has no zone.
    const state = { lastScheduledFor: t('2026-03-29T00:30:00Z') }
    const next = nextRun(every(1, 'hours'), state, t('2026-03-29T00:31:00Z'))
    expect(iso(next)).toBe('2026-03-29T01:30:00.000Z')
  })

  it('count from a manual run when no run was ever scheduled', () => {
    const state = {
      lastStartedAt: t('2026-05-10T09:50:00Z'),
      lastEndedAt: t('2026-05-10T09:52:00Z'),
    }
    const next = nextRun(every(1, 'hours'), state, t('2026-05-10T10:00:00Z'))
    expect(iso(next)).toBe('2026-05-10T10:50:00.000Z')
  })

  it('do not move their slots for manual runs in between', () => {
    const state = {
      lastScheduledFor: t('2026-05-10T10:00:00Z'),
      lastStartedAt: t('2026-05-10T10:40:00Z'), // started by hand
      lastEndedAt: t('2026-05-10T10:41:00Z'),
    }
    const next = nextRun(every(1, 'hours'), state, t('2026-05-10T10:45:00Z'))
    expect(iso(next)).toBe('2026-05-10T11:00:00.000Z')
  })

  it('run once at reactivation, not for the slots passed while inactive', () => {
    const state = {
      lastScheduledFor: t('2026-05-01T10:00:00Z'),
      notBefore: t('2026-05-10T08:20:00Z'),
    }
    const now = t('2026-05-10T08:20:00Z')
    expect(iso(dueRun(every(1, 'hours'), state, now))).toBe('2026-05-10T08:20:00.000Z')
    const after = { ...state, lastScheduledFor: t('2026-05-10T08:20:00Z') }
    expect(iso(nextRun(every(1, 'hours'), after, now))).toBe('2026-05-10T09:20:00.000Z')
  })
})

describe('continuous plans', () => {
  const ended = t('2026-05-10T10:00:00Z')
  const now = t('2026-05-10T10:00:01Z')

  it('run at once when the task never ran', () => {
    expect(iso(nextRun(continuous, {}, now))).toBe('2026-05-10T10:00:01.000Z')
  })

  it('run again as soon as a run that changed something ends', () => {
    const state = {
      lastStartedAt: t('2026-05-10T09:59:00Z'),
      lastEndedAt: ended,
      lastRunChanged: true,
    }
    expect(iso(nextRun(continuous, state, now))).toBe('2026-05-10T10:00:00.000Z')
    expect(iso(dueRun(continuous, state, now))).toBe('2026-05-10T10:00:00.000Z')
  })

  it('have no next time while a run is in progress', () => {
    const state = { lastStartedAt: t('2026-05-10T10:00:00.500Z'), lastEndedAt: ended }
    expect(nextRun(continuous, state, now)).toBeUndefined()
    expect(dueRun(continuous, state, now)).toBeUndefined()
  })

  it('back off 5 s, 10 s, 20 s, 40 s, then 60 s at most while runs change nothing', () => {
    const after = (idleRuns: number) =>
      iso(nextRun(continuous, { lastEndedAt: ended, lastRunChanged: false, idleRuns }, now))
    expect([1, 2, 3, 4, 5, 6, 50].map(after)).toEqual([
      '2026-05-10T10:00:05.000Z',
      '2026-05-10T10:00:10.000Z',
      '2026-05-10T10:00:20.000Z',
      '2026-05-10T10:00:40.000Z',
      '2026-05-10T10:01:00.000Z',
      '2026-05-10T10:01:00.000Z',
      '2026-05-10T10:01:00.000Z',
    ])
    expect(CONTINUOUS_IDLE_BACKOFF).toEqual({ firstMs: 5_000, factor: 2, maxMs: 60_000 })
  })

  it('back off 5 s after an idle run when the count is missing', () => {
    const state = { lastEndedAt: ended, lastRunChanged: false }
    expect(iso(nextRun(continuous, state, now))).toBe('2026-05-10T10:00:05.000Z')
  })

  it('are not due during the back-off, and due when it is over', () => {
    const state = { lastEndedAt: ended, lastRunChanged: false, idleRuns: 2 }
    expect(dueRun(continuous, state, t('2026-05-10T10:00:09.999Z'))).toBeUndefined()
    expect(iso(dueRun(continuous, state, t('2026-05-10T10:00:10Z')))).toBe(
      '2026-05-10T10:00:10.000Z',
    )
  })

  it('drop the back-off as soon as a run changes something', () => {
    const state = { lastEndedAt: ended, lastRunChanged: true, idleRuns: 0 }
    expect(iso(nextRun(continuous, state, now))).toBe('2026-05-10T10:00:00.000Z')
  })
})

describe('daily plans', () => {
  it('run at the next occurrence after now when the task never ran (UTC)', () => {
    const plan = daily('02:30', 'UTC')
    expect(iso(nextRun(plan, {}, t('2026-05-10T01:00:00Z')))).toBe('2026-05-10T02:30:00.000Z')
    expect(iso(nextRun(plan, {}, t('2026-05-10T03:00:00Z')))).toBe('2026-05-11T02:30:00.000Z')
    expect(dueRun(plan, {}, t('2026-05-10T03:00:00Z'))).toBeUndefined()
  })

  it('run strictly after the last scheduled slot', () => {
    const plan = daily('02:30', 'UTC')
    const state = { lastScheduledFor: t('2026-05-10T02:30:00Z') }
    const now = t('2026-05-10T02:30:05Z')
    expect(iso(nextRun(plan, state, now))).toBe('2026-05-11T02:30:00.000Z')
    expect(dueRun(plan, state, now)).toBeUndefined()
  })

  it('become due at the time planned for a task that never ran', () => {
    const plan = daily('02:30', 'Europe/Berlin')
    const planned = nextRun(plan, {}, t('2026-05-09T18:00:00Z'))!
    expect(iso(planned)).toBe('2026-05-10T00:30:00.000Z')
    const now = t('2026-05-10T00:30:00.020Z')
    expect(iso(dueRun(plan, { notBefore: planned }, now))).toBe('2026-05-10T00:30:00.000Z')
    // Without the planned time, a never-run task's next occurrence moves on with `now`.
    expect(dueRun(plan, {}, now)).toBeUndefined()
  })

  it('follow the offset of Europe/Berlin in winter and summer', () => {
    const plan = daily('02:30', 'Europe/Berlin')
    expect(iso(nextRun(plan, {}, t('2026-01-15T12:00:00Z')))).toBe('2026-01-16T01:30:00.000Z')
    expect(iso(nextRun(plan, {}, t('2026-07-15T12:00:00Z')))).toBe('2026-07-16T00:30:00.000Z')
  })

  it('run a time skipped by the spring change at 03:00, once (Berlin, 2026-03-29)', () => {
    expect(
      slots(daily('02:30', 'Europe/Berlin'), '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z'),
    ).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST, the moment of the change
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ])
  })

  it('run a time repeated by the autumn change once, at its first pass (Berlin, 2026-10-25)', () => {
    const plan = daily('02:30', 'Europe/Berlin')
    expect(slots(plan, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // first 02:30, still CEST
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ])
    // At the second 02:30 (CET) the day's run is done: nothing is due.
    const state = { lastScheduledFor: t('2026-10-25T00:30:00Z') }
    expect(dueRun(plan, state, t('2026-10-25T01:30:00Z'))).toBeUndefined()
    expect(dueRun(plan, state, t('2026-10-25T01:45:00Z'))).toBeUndefined()
  })

  it('keep 01:30 and 03:30 on both change days in Berlin', () => {
    const berlin = (at: string, from: string, to: string) =>
      slots(daily(at, 'Europe/Berlin'), from, to)
    expect(berlin('01:30', '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      '2026-03-28T00:30:00.000Z',
      '2026-03-29T00:30:00.000Z', // before the change: CET
      '2026-03-29T23:30:00.000Z',
    ])
    expect(berlin('03:30', '2026-03-28T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual([
      '2026-03-28T02:30:00.000Z',
      '2026-03-29T01:30:00.000Z', // after the change: CEST
    ])
    expect(berlin('01:30', '2026-10-24T00:00:00Z', '2026-10-26T01:00:00Z')).toEqual([
      '2026-10-24T23:30:00.000Z', // before the change: CEST
      '2026-10-26T00:30:00.000Z',
    ])
    expect(berlin('03:30', '2026-10-24T00:00:00Z', '2026-10-26T01:00:00Z')).toEqual([
      '2026-10-24T01:30:00.000Z',
      '2026-10-25T02:30:00.000Z', // after the change: CET
    ])
  })

  it('handle both changes in America/New_York', () => {
    const ny = (at: string, from: string, to: string) =>
      slots(daily(at, 'America/New_York'), from, to)
    // 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00 UTC.
    expect(ny('02:30', '2026-03-07T12:00:00Z', '2026-03-09T12:00:00Z')).toEqual([
      '2026-03-08T07:00:00.000Z', // 03:00 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
    ])
    // 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00 UTC; 01:30 happens twice.
    expect(ny('01:30', '2026-10-31T12:00:00Z', '2026-11-02T12:00:00Z')).toEqual([
      '2026-11-01T05:30:00.000Z', // first 01:30, EDT
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ])
  })

  it('handle the 30-minute changes of Australia/Lord_Howe', () => {
    const lh = (at: string, from: string, to: string) =>
      slots(daily(at, 'Australia/Lord_Howe'), from, to)
    // 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11); 02:15 does not exist.
    expect(lh('02:15', '2026-10-02T12:00:00Z', '2026-10-04T12:00:00Z')).toEqual([
      '2026-10-02T15:45:00.000Z', // 02:15 +10:30
      '2026-10-03T15:30:00.000Z', // 02:30 +11, the moment of the change
    ])
    // 2026-04-05: 02:00 (+11) becomes 01:30 (+10:30); 01:45 happens twice.
    expect(lh('01:45', '2026-04-03T12:00:00Z', '2026-04-05T18:00:00Z')).toEqual([
      '2026-04-03T14:45:00.000Z', // 01:45 +11
      '2026-04-04T14:45:00.000Z', // first 01:45, +11
      '2026-04-05T15:15:00.000Z', // 01:45 +10:30
    ])
  })

  it('keep the same UTC time every day in Asia/Kolkata, which has no daylight saving', () => {
    const kolkata = slots(
      daily('02:30', 'Asia/Kolkata'),
      '2026-03-27T12:00:00Z',
      '2026-03-30T12:00:00Z',
    )
    expect(kolkata).toEqual([
      '2026-03-27T21:00:00.000Z',
      '2026-03-28T21:00:00.000Z',
      '2026-03-29T21:00:00.000Z',
    ])
  })
})

describe('after a long downtime', () => {
  it('an interval task runs once, for the latest missed slot', () => {
    const plan = every(15, 'minutes')
    const state = { lastScheduledFor: t('2026-05-10T10:00:00Z') }
    const now = t('2026-05-10T13:07:30Z')
    const slot = dueRun(plan, state, now)
    expect(iso(slot)).toBe('2026-05-10T13:00:00.000Z')
    const next = nextRun(plan, { ...state, lastScheduledFor: slot }, now)
    expect(iso(next)).toBe('2026-05-10T13:15:00.000Z')
    expect(dueRun(plan, { ...state, lastScheduledFor: slot }, now)).toBeUndefined()
  })

  it('a daily task runs once, for the most recent occurrence', () => {
    const plan = daily('02:30', 'Europe/Berlin')
    const state = { lastScheduledFor: t('2026-05-01T00:30:00Z') }
    const now = t('2026-05-10T12:00:00Z')
    const slot = dueRun(plan, state, now)
    expect(iso(slot)).toBe('2026-05-10T00:30:00.000Z')
    const next = nextRun(plan, { lastScheduledFor: slot }, now)
    expect(iso(next)).toBe('2026-05-11T00:30:00.000Z')
    expect(dueRun(plan, { lastScheduledFor: slot }, now)).toBeUndefined()
  })

  it('a daily task down across the spring change runs the shifted slot of that day', () => {
    const plan = daily('02:30', 'Europe/Berlin')
    const state = { lastScheduledFor: t('2026-03-27T01:30:00Z') }
    expect(iso(dueRun(plan, state, t('2026-03-29T08:00:00Z')))).toBe('2026-03-29T01:00:00.000Z')
  })

  it('a daily task reactivated after a week waits for its next time', () => {
    const plan = daily('02:30', 'UTC')
    const state = {
      lastScheduledFor: t('2026-05-01T02:30:00Z'),
      notBefore: t('2026-05-08T09:00:00Z'),
    }
    const now = t('2026-05-08T09:00:00Z')
    expect(dueRun(plan, state, now)).toBeUndefined()
    expect(iso(nextRun(plan, state, now))).toBe('2026-05-09T02:30:00.000Z')
  })
})

describe('manual and inactive plans', () => {
  const now = t('2026-05-10T10:00:00Z')
  const longAgo = {
    lastScheduledFor: t('2026-01-01T00:00:00Z'),
    lastEndedAt: t('2026-01-01T00:01:00Z'),
  }
  const plans: ExecutionPlan[] = [continuous, every(15, 'minutes'), daily('02:30', 'UTC')]

  it('are never scheduled', () => {
    for (const state of [{}, longAgo]) {
      expect(nextRun(manual, state, now)).toBeUndefined()
      expect(dueRun(manual, state, now)).toBeUndefined()
      for (const plan of plans) {
        expect(nextRun({ ...plan, active: false }, state, now)).toBeUndefined()
        expect(dueRun({ ...plan, active: false }, state, now)).toBeUndefined()
      }
    }
  })
})

describe('invalid plans', () => {
  const rejects = (plan: ExecutionPlan, message: string) => {
    const error = (() => {
      try {
        nextRun(plan, {}, t('2026-05-10T10:00:00Z'))
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(OpenSyncError)
    expect(error).toMatchObject({ code: 'OSY_INVALID_TASK' })
    expect((error as Error).message).toContain(message)
  }

  it('name a time zone that does not exist', () => {
    rejects(
      daily('02:30', 'Europe/Berlinn'),
      'plan.timezone: "Europe/Berlinn" is not an IANA time zone',
    )
    rejects(daily('02:30', '+01:00'), '"+01:00" is not an IANA time zone')
    rejects(daily('02:30', ''), '"" is not an IANA time zone')
  })

  it('name a time of day that is not HH:MM', () => {
    for (const at of ['24:00', '2:30', '02:60', '02:30:00', 'noon']) {
      rejects(daily(at, 'UTC'), `plan.at: "${at}" is not a time of day as HH:MM`)
    }
  })

  it('name a period that is not a positive whole number', () => {
    rejects(every(0, 'minutes'), 'plan.every: 0 is not a whole number of minutes above 0')
    rejects(every(1.5, 'hours'), 'plan.every: 1.5 is not a whole number of hours above 0')
  })

  it('are rejected even when inactive', () => {
    rejects({ ...daily('02:30', 'Mars/Olympus'), active: false }, '"Mars/Olympus"')
  })
})

describe('descriptions', () => {
  it('say what a plan does', () => {
    expect(describePlan(every(15, 'minutes'))).toBe('every 15 minutes')
    expect(describePlan(every(1, 'minutes'))).toBe('every minute')
    expect(describePlan(every(1, 'hours'))).toBe('every hour')
    expect(describePlan(every(6, 'hours'))).toBe('every 6 hours')
    expect(describePlan(daily('02:30', 'Europe/Berlin'))).toBe('daily at 02:30 (Europe/Berlin)')
    expect(describePlan(continuous)).toBe('continuously')
    expect(describePlan(manual)).toBe('manually only')
    expect(describePlan({ ...every(15, 'minutes'), active: false })).toBe(
      'every 15 minutes, inactive',
    )
    expect(describePlan({ ...manual, active: false })).toBe('manually only')
    expect(describePlan(continuous, 'fr-CA')).toBe('continuously')
  })

  it('say when the next run comes', () => {
    const now = t('2026-05-10T10:26:00Z') // a Sunday; 12:26 in Berlin
    const inBerlin = { timeZone: 'Europe/Berlin' }
    const next = (iso: string) => describeNext(t(iso), now, inBerlin)
    expect(next('2026-05-10T10:30:00Z')).toBe('in 4 minutes')
    expect(next('2026-05-10T10:27:00Z')).toBe('in 1 minute')
    expect(next('2026-05-10T10:26:20Z')).toBe('in 20 seconds')
    expect(next('2026-05-10T10:26:00Z')).toBe('now')
    expect(next('2026-05-10T09:00:00Z')).toBe('now')
    expect(next('2026-05-10T12:00:00Z')).toBe('today at 14:00')
    expect(next('2026-05-11T00:30:00Z')).toBe('tomorrow at 02:30')
    expect(next('2026-05-10T22:30:00Z')).toBe('tomorrow at 00:30')
    expect(next('2026-05-15T00:30:00Z')).toBe('on Friday at 02:30')
    expect(next('2026-06-01T00:30:00Z')).toBe('on Jun 1 at 02:30')
    expect(next('2027-01-04T01:30:00Z')).toBe('on Jan 4, 2027 at 02:30')
    expect(describeNext(undefined, now)).toBe('not scheduled')
    // The reader's zone decides "tomorrow": 22:30 UTC is still today in UTC.
    expect(describeNext(t('2026-05-10T22:30:00Z'), now, { timeZone: 'UTC' })).toBe('today at 22:30')
  })
})

describe('invariants the scheduler relies on', () => {
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata']
  const minute = 60_000
  const base = t('2026-01-01T00:00:00Z').getTime()
  const instant = fc.integer({ min: 0, max: 366 * 24 * 60 }).map((m) => new Date(base + m * minute))
  const plan: fc.Arbitrary<ExecutionPlan> = fc.oneof(
    fc
      .record({
        every: fc.integer({ min: 1, max: 180 }),
        unit: fc.constantFrom<'minutes' | 'hours'>('minutes', 'hours'),
      })
      .map(({ every: n, unit }) => every(n, unit)),
    fc
      .record({
        hour: fc.integer({ min: 0, max: 23 }),
        minute: fc.constantFrom(0, 15, 30, 45, 59),
        zone: fc.constantFrom(...zones),
      })
      .map(({ hour, minute: m, zone }) =>
        daily(`${String(hour).padStart(2, '0')}:${String(m).padStart(2, '0')}`, zone),
      ),
  )

  it('a due slot is in the past, and once it is run the next one is in the future', () => {
    fc.assert(
      fc.property(plan, instant, fc.option(instant, { nil: undefined }), (p, now, last) => {
        const state = last && last <= now ? { lastScheduledFor: last } : {}
        const next = nextRun(p, state, now)!
        const due = dueRun(p, state, now)
        expect(due !== undefined).toBe(next <= now)
        if (!due) return
        expect(due <= now && due >= next).toBe(true)
        const after = nextRun(p, { lastScheduledFor: due }, now)!
        expect(after > now).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })
})
