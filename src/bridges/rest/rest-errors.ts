import { OpenSyncError } from '../../sdk/index.ts'

/**
 * An HTTP error answer as an OpenSyncError: 401/403 → auth failed, 404 → record (or type)
 * not found, 409 → constraint, other 4xx → the record was refused (a user error of that
 * record), 429, 5xx → transient. The API's own message goes into the text, cut short; the
 * status is the `systemCode`.
 */
export function statusError(status: number, body: string, where: string): OpenSyncError {
  const said = messageOf(body)
  const text = `${where}: HTTP ${status}${said ? ` — ${said}` : ''}`
  const details = { systemCode: String(status) }
  if (status === 401 || status === 403)
    return new OpenSyncError('OSY_AUTH_FAILED', text, { details })
  if (status === 404 || status === 410)
    return new OpenSyncError('OSY_RECORD_NOT_FOUND', text, { details })
  if (status === 409) return new OpenSyncError('OSY_CONSTRAINT_VIOLATION', text, { details })
  if (status === 429)
    return new OpenSyncError('OSY_SYSTEM_ERROR', `${text} (rate limited)`, { details })
  if (status === 408 || status === 504) return new OpenSyncError('OSY_TIMEOUT', text, { details })
  if (status >= 500) return new OpenSyncError('OSY_SYSTEM_ERROR', text, { details })
  // 400, 422 and the rest: the API refused this request's content.
  return new OpenSyncError('OSY_CONSTRAINT_VIOLATION', text, { details })
}

/** `Retry-After` in ms: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after')
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/** The message an API put into an error body (`message`, `error`, `detail`), or the text. */
function messageOf(body: string): string {
  const trimmed = body.trim()
  if (!trimmed) return ''
  let said = trimmed
  try {
    const parsed = JSON.parse(trimmed) as Record<string, unknown>
    const m = parsed.message ?? parsed.error ?? parsed.detail ?? parsed.title
    if (typeof m === 'string') said = m
    else if (m && typeof m === 'object' && typeof (m as { message?: unknown }).message === 'string')
      said = (m as { message: string }).message
  } catch {}
  return said.length > 200 ? `${said.slice(0, 200)}…` : said
}
