import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'

// Drives the real CLI (`node bin/opensync.js …`) for the tests of test/cli.

export const BIN = fileURLToPath(new URL('../../bin/opensync.js', import.meta.url))

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node bin/opensync.js …` in `cwd`, without a store URL from the environment. */
export function cli(
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env }
  delete base.OPENSYNC_DATABASE_URL
  delete base.npm_command
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...base, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number) : 0
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr })
      },
    )
  })
}

/** A fresh folder under the system's temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'osy-cli-'))
}

/** Runs SQL on a SQLite file (created when missing). */
export function sqlite(file: string, statements: string): void {
  const db = new Database(file)
  try {
    db.exec(statements)
  } finally {
    db.close()
  }
}

/** Rows of a query on a SQLite file. */
export function rows<T>(file: string, query: string): T[] {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare(query).all() as T[]
  } finally {
    db.close()
  }
}

/** Writes a task file `name` into `dir`; returns its path. */
export function taskFile(dir: string, name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}
