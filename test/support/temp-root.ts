import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Vitest's global setup: the run's temporary folders all go under one folder, removed when the
 * run ends. Test files and the processes their tests start (CLI runs, crash children, servers)
 * inherit it as TMPDIR, which `os.tmpdir()` reads, so a run leaves nothing behind in the
 * system's temporary folder, whatever a test forgot to remove (a run used to leave ~90 folders,
 * ~70 MB, in /tmp).
 */
export default function setup(): () => void {
  const previous = process.env.TMPDIR
  const root = mkdtempSync(join(tmpdir(), 'osy-test-run-'))
  // Servers read files that tests write there (PostgreSQL's COPY … FROM a file).
  chmodSync(root, 0o755)
  process.env.TMPDIR = root
  return () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    rmSync(root, { recursive: true, force: true })
  }
}
