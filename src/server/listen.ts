import { OpenSyncError } from '../sdk/errors.ts'

/** The port the API listens on unless OPENSYNC_LISTEN says otherwise. */
export const DEFAULT_PORT = 8080

/** Where the API listens. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/**
 * `OPENSYNC_LISTEN`: `host:port`, `:port` or `port` (host 127.0.0.1), `[::1]:port` for IPv6.
 * Unset, the API listens on 127.0.0.1:8080: only this machine reaches it until you say so.
 */
export function parseListen(text: string | undefined): ListenAddress {
  const value = (text ?? '').trim()
  if (value === '') return { host: '127.0.0.1', port: DEFAULT_PORT }
  const match = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(value)
  const port = Number(match?.[2])
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new OpenSyncError(
      'OSY_INVALID_OPTION',
      `OPENSYNC_LISTEN must be host:port, :port or a port (0 to 65535), not "${value}"`,
      { details: { field: 'OPENSYNC_LISTEN' } },
    )
  }
  const host = (match[1] ?? '').replace(/^\[(.*)\]$/, '$1') || '127.0.0.1'
  return { host, port }
}

/** The URL people open for an address the server listens on. */
export function urlOf(address: ListenAddress): string {
  const host =
    address.host === '0.0.0.0' || address.host === '::'
      ? 'localhost'
      : address.host.includes(':')
        ? `[${address.host}]`
        : address.host
  return `http://${host}:${address.port}`
}
