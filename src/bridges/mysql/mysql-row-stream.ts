import type { MysqlRow } from './mysql-driver.ts'

/** The part of mysql2's callback connection a streamed query needs. */
export interface StreamingConnection {
  query(options: { sql: string; values?: readonly unknown[] }): QueryEvents
  pause(): void
  resume(): void
}

/** mysql2's query command without a callback: an emitter of its rows. */
interface QueryEvents {
  on(event: 'result', listener: (row: MysqlRow) => void): QueryEvents
  on(event: 'error', listener: (error: unknown) => void): QueryEvents
  on(event: 'end', listener: () => void): QueryEvents
}

/** Whether the driver connection can stream a query's rows (mysql2's can). */
export function canStream(connection: object): connection is StreamingConnection {
  const c = connection as Partial<StreamingConnection>
  return (
    typeof c.query === 'function' && typeof c.pause === 'function' && typeof c.resume === 'function'
  )
}

/**
 * One query's rows in batches of `size`, as the server sends them: one statement for the whole
 * read instead of a keyset page per batch. A page of an ORDER BY that no index serves costs the
 * server a scan and a sort of the whole table, so paging a table of a million rows by an
 * unindexed cursor meant a thousand such sorts; streamed, it is one. The socket is paused while
 * `ahead` batches wait for the consumer, so memory stays at a few batches however large the
 * table. `last` is true on the final batch (an empty one when the rows end on a full batch, or
 * when there are none).
 *
 * A consumer that stops early leaves the rest of the result on the connection: the caller must
 * destroy it rather than reuse it (`finished()` says whether the query ran to its end).
 */
export function streamRows(
  connection: StreamingConnection,
  sql: string,
  values: readonly unknown[],
  size: number,
  ahead = 2,
): { batches: AsyncGenerator<{ rows: MysqlRow[]; last: boolean }>; finished(): boolean } {
  const ready: MysqlRow[][] = []
  let current: MysqlRow[] = []
  let ended = false
  let failure: { error: unknown } | undefined
  let paused = false
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  connection
    .query({ sql, values })
    .on('result', (row) => {
      current.push(row)
      if (current.length < size) return
      ready.push(current)
      current = []
      if (ready.length > ahead && !paused) {
        paused = true
        connection.pause()
      }
      notify()
    })
    .on('error', (error) => {
      failure = { error }
      notify()
    })
    .on('end', () => {
      if (current.length > 0) ready.push(current)
      current = []
      ended = true
      notify()
    })

  async function* batches(): AsyncGenerator<{ rows: MysqlRow[]; last: boolean }> {
    for (;;) {
      // A batch goes out once the next one (or the end) is known: the last is marked.
      if (failure) throw failure.error
      if (ready.length > 1 || (ended && ready.length > 0)) {
        const rows = ready.shift()!
        if (paused && ready.length <= ahead) {
          paused = false
          connection.resume()
        }
        const last = ended && ready.length === 0
        yield { rows, last }
        if (last) return
        continue
      }
      if (ended) {
        yield { rows: [], last: true }
        return
      }
      if (paused) {
        paused = false
        connection.resume()
      }
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  }
  return { batches: batches(), finished: () => ended && ready.length === 0 }
}
