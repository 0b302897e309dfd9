import { OpenSyncError } from '../../sdk/index.ts'
import { statusError } from './rest-errors.ts'
import type { HttpClient } from './rest-http.ts'
import type { RestPagination } from './rest-manifest.ts'
import { parseBody } from './rest-values.ts'

/** One list request before paging: URL with its query, and where the records are. */
export interface ListRequest {
  readonly url: URL
  readonly headers?: Readonly<Record<string, string>>
  readonly recordsPath: string
  readonly pagination: RestPagination
  readonly pageSize: number
  readonly signal?: AbortSignal | undefined
  /** Stop after this many pages (a sample, a check): no page beyond is requested. */
  readonly maxPages?: number
}

/** A value at a dot path (`data.items`, `meta.next`) of a parsed body; the body for ''. */
export function atPath(body: unknown, path: string): unknown {
  if (path === '' || path === '.') return body
  let value = body
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/**
 * The pages of a list, one array of raw records each, in order. The next page is requested
 * while the caller works on the current one, so reading and processing overlap. Paging
 * ends on an empty page, a short page (when the page size is sent), or when the response
 * names no next page (cursor token, next URL, `Link: <…>; rel="next"`).
 */
export async function* listPages(
  http: HttpClient,
  request: ListRequest,
): AsyncGenerator<Record<string, unknown>[]> {
  const p = request.pagination
  const first = new URL(request.url)
  if (p.type !== 'none' && p.sizeParam)
    first.searchParams.set(p.sizeParam, String(request.pageSize))
  if (p.type === 'page') first.searchParams.set(p.param, String(p.startAt))
  if (p.type === 'offset') first.searchParams.set(p.param, '0')
  if (p.type === 'link' && p.param) first.searchParams.set(p.param, '1')

  let page = p.type === 'page' ? p.startAt : 0
  let offset = 0
  let pending: Promise<{ records: Record<string, unknown>[]; next: URL | undefined }> | undefined =
    fetchPage(first)

  async function fetchPage(url: URL) {
    const response = await http.send({
      method: 'GET',
      url: url.toString(),
      ...(request.headers ? { headers: request.headers } : {}),
      signal: request.signal,
    })
    if (response.status >= 400) {
      const e = statusError(response.status, response.text, `GET ${url.pathname}`)
      if (e.code === 'OSY_RECORD_NOT_FOUND') {
        throw new OpenSyncError(
          'OSY_RECORD_TYPE_NOT_FOUND',
          `${e.message}: the list path of the record type is wrong`,
          {
            details: e.details,
          },
        )
      }
      throw e
    }
    const body = response.text.trim() === '' ? null : parseBody(response.text)
    const found = atPath(body, request.recordsPath)
    if (!Array.isArray(found)) {
      throw new OpenSyncError(
        'OSY_SYSTEM_ERROR',
        `GET ${url.pathname}: no list of records at "${request.recordsPath || '(the body)'}" of the response`,
      )
    }
    const records = found as Record<string, unknown>[]
    return { records, next: nextUrl(url, body, response.headers, records.length) }
  }

  function nextUrl(url: URL, body: unknown, headers: Headers, count: number): URL | undefined {
    if (count === 0) return undefined
    const sized = p.type !== 'none' && p.sizeParam !== undefined
    switch (p.type) {
      case 'none':
        return undefined
      case 'page': {
        if (sized && count < request.pageSize) return undefined
        const next = new URL(url)
        next.searchParams.set(p.param, String(++page))
        return next
      }
      case 'offset': {
        if (sized && count < request.pageSize) return undefined
        offset += count
        const next = new URL(url)
        next.searchParams.set(p.param, String(offset))
        return next
      }
      case 'cursor': {
        const token = atPath(body, p.tokenPath)
        if (token === undefined || token === null || token === '') return undefined
        const next = new URL(url)
        next.searchParams.set(p.param, String(token))
        return next
      }
      case 'nextUrl': {
        const link = atPath(body, p.urlPath)
        return typeof link === 'string' && link !== '' ? new URL(link, url) : undefined
      }
      case 'link': {
        const link = linkNext(headers.get('link'))
        return link ? new URL(link, url) : undefined
      }
    }
  }

  let pages = 0
  while (pending) {
    pages++
    const { records, next }: { records: Record<string, unknown>[]; next: URL | undefined } =
      await pending
    pending = next && pages < (request.maxPages ?? Infinity) ? fetchPage(next) : undefined
    // A rejected prefetch the caller never waits for must not crash the process.
    pending?.catch(() => {})
    yield records
  }
}

/** The `rel="next"` target of a Link header. */
export function linkNext(header: string | null): string | undefined {
  if (!header) return undefined
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim())
    if (m && /rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2]!)) return m[1]
  }
  return undefined
}
