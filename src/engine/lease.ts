import { hostname } from 'node:os'

/** How long a run's lease lasts without renewal, unless a caller says otherwise. */
export const DEFAULT_LEASE_MS = 30_000

/** A lease owner unique to this process: `<host>:<pid>:<random>`. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`
}

/**
 * True when an owner names a process on this machine that no longer exists (killed with
 * SIGKILL, say): its run can be taken over at once instead of after its lease runs out.
 */
export function isDeadLocalOwner(owner: string): boolean {
  const [host, pidText] = owner.split(':')
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
