import i18next from 'i18next'

/** A plan in words: "every 15 minutes", "daily at 02:00 (Europe/Berlin)", "manual". */
export function planText(
  plan: { kind: string; every?: number; unit?: string; at?: string; timezone?: string } | undefined,
): string {
  const t = i18next.t.bind(i18next)
  if (!plan) return t('plan.manual')
  if (plan.kind === 'interval')
    return t(`plan.every_${plan.unit ?? 'minutes'}`, { count: plan.every ?? 1 })
  if (plan.kind === 'daily')
    return t('plan.dailyAt', { at: plan.at ?? '', zone: plan.timezone ?? 'UTC' })
  return t(`plan.${plan.kind}`, { defaultValue: plan.kind })
}

/**
 * One formatter per language: `toLocaleString` with options builds a new one on every call,
 * which a list of executions pays for twice a row.
 */
const formats = new Map<string, Intl.DateTimeFormat>()

/** A point in time in the user's language, or a dash. */
export function dateTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '–'
  const language = i18next.language
  let format = formats.get(language)
  if (!format) {
    format = new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'medium' })
    formats.set(language, format)
  }
  return format.format(new Date(value))
}

/** How long from start to end (or now), "1 min 4 s". */
export function duration(start: string | null | undefined, end: string | null | undefined): string {
  if (!start) return '–'
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start)
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  return `${Math.floor(s / 60)} min ${s % 60} s`
}
