/** What {@link redact} writes in place of a secret. */
export const REDACTED = '***'

/** Shorter values are left alone: replacing every `1` or `ab` would garble the text. */
export const MIN_REDACTED_LENGTH = 4

// `scheme://user:password@`: the password runs to the last `@` before the path (or a space
// or quote), since passwords written unencoded may hold an `@` themselves.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'<>]*:)[^\s/"'<>]*@/gi
// `?password=…` in a connection URL (libpq and mysql2 take it there too).
const QUERY_PASSWORD = /([?&](?:password|passwd|pwd)=)[^&#\s]*/gi

/**
 * Removes secrets from a log line, a protocol entry or an error message: the last line of
 * defence, for text that came from a driver or a system and may quote what it was given.
 * Replaces each known secret of at least {@link MIN_REDACTED_LENGTH} characters (as written,
 * percent-encoded and JSON-escaped), and any URL password (`scheme://user:***@`).
 *
 * @example
 * redact('auth failed for postgres://app:S3cr3t-pw!@db/crm', []) // 'auth failed for postgres://app:***@db/crm'
 */
export function redact(text: string, secrets: Iterable<string>): string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret.length < MIN_REDACTED_LENGTH) continue
    forms.add(secret)
    forms.add(encodeURIComponent(secret))
    forms.add(encodeStrict(secret))
    forms.add(JSON.stringify(secret).slice(1, -1))
  }
  // Longest first, so a secret that contains another is replaced whole.
  let out = text
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(form, REDACTED)
  }
  return out.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(QUERY_PASSWORD, `$1${REDACTED}`)
}

// RFC 3986 percent-encoding, which also escapes the !'()* that encodeURIComponent leaves.
function encodeStrict(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}
