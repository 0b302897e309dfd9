import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { measureProcess } from './measure-process.ts'

/** A file of bench/support, or the repository's root (`../..`). */
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))

/**
 * Seconds the store alone takes for n links (store-floor.ts, in a process of its own, with
 * the CLI's heap settings). A SQLite store file is removed afterwards; a PostgreSQL schema is
 * the caller's to drop.
 */
export async function storeAlone(
  store: string,
  n: number,
  options: { shape?: 'contacts' } = {},
): Promise<number> {
  try {
    const r = await measureProcess(
      process.execPath,
      [
        '--max-semi-space-size=16',
        here('store-floor.ts'),
        store,
        String(n),
        ...(options.shape ? [`--shape=${options.shape}`] : []),
      ],
      { cwd: here('../..') },
    )
    return (JSON.parse(r.stdout) as { seconds: number }).seconds
  } finally {
    if (!/^postgres(ql)?:/.test(store)) {
      for (const end of ['', '-wal', '-shm', '-migrate.lock'])
        rmSync(`${store}${end}`, { force: true })
    }
  }
}

/** Seconds `csv-parse` alone takes for a file (csv-parse-floor.ts, in a process of its own). */
export async function csvParseAlone(file: string): Promise<number> {
  const r = await measureProcess(process.execPath, [here('csv-parse-floor.ts'), file], {
    cwd: here('../..'),
  })
  return (JSON.parse(r.stdout) as { seconds: number }).seconds
}
