import { userInfo } from 'node:os'

/** Who the audit trail names for a change made with the CLI: `cli:<os user>`. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`
  } catch {
    return 'cli'
  }
}
