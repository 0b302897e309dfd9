import { isAbsolute, relative } from 'node:path'
import { OpenSyncError } from '../../sdk/index.ts'

/** One problem with a profile file: the file, the place in it, and what is wrong. */
export interface ProfileIssue {
  /** The file, relative to the current folder when it lies inside it. */
  readonly source: string
  /** Where in the file, as `pairs[0].directions[1]`; empty for the file itself. */
  readonly path: string
  readonly message: string
  /** The profile's id, when the file got far enough to say it. */
  readonly profile?: string
}

/** An issue as one line: `profiles/x.yaml: pairs[0].directions[1]: must be one of …`. */
export function formatProfileIssue(issue: ProfileIssue): string {
  return `${issue.source}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`
}

/** The one error for invalid profiles, listing every problem of every file. */
export function invalidProfiles(issues: readonly ProfileIssue[]): OpenSyncError {
  const files = new Set(issues.map((i) => i.source))
  const head =
    files.size === 1 ? `invalid system profile ${[...files][0]}` : 'invalid system profiles'
  return new OpenSyncError(
    'OSY_INVALID_PROFILE',
    `${head}:\n${issues.map((i) => `  ${formatProfileIssue(i)}`).join('\n')}`,
    { details: { issues, field: issues[0]?.path } },
  )
}

/** A path for messages: relative to the current folder when inside it, else as given. */
export function displayPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path
}
