import type { z } from 'zod'
import { OpenSyncError } from '../../sdk/index.ts'

/** One problem in a task file: where it is and what is wrong, in words for the user. */
export interface TaskIssue {
  /** Where the problem is, as `pairs[0].conflict.winner`; empty for the document itself. */
  readonly path: string
  readonly message: string
}

/** A path into a document, as zod and the validators walk it. */
export type IssuePath = readonly PropertyKey[]

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Writes a path the way a user would point at it in the file: `pairs[0].fields.name`, with
 * keys that are not plain names quoted (`fields["e-mail"]`) so the path stays unambiguous.
 */
export function formatPath(path: IssuePath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (typeof part === 'string' && IDENTIFIER.test(part)) out += out ? `.${part}` : part
    else out += `[${JSON.stringify(String(part))}]`
  }
  return out
}

/**
 * The error for an invalid task file: one error listing every problem, so a user fixes the
 * file in one round rather than one problem per attempt.
 */
export function invalidTask(issues: readonly TaskIssue[], source?: string): OpenSyncError {
  const head = source ? `invalid task file ${source}` : 'invalid task file'
  const lines = issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`)
  return new OpenSyncError('OSY_INVALID_TASK', `${head}:\n${lines.join('\n')}`, {
    details: { ...(source ? { source } : {}), issues, field: issues[0]?.path },
  })
}

/** Collects problems while a validator walks a document, then throws them together. */
export class IssueList {
  readonly #issues: TaskIssue[] = []

  /** Records a problem at `path`. */
  add(path: IssuePath, message: string): void {
    this.#issues.push({ path: formatPath(path), message })
  }

  /** The problems recorded so far. */
  get issues(): readonly TaskIssue[] {
    return this.#issues
  }

  /** Throws OSY_INVALID_TASK listing every problem, if there is any. */
  throwIfAny(source?: string): void {
    if (this.#issues.length > 0) throw invalidTask(this.#issues, source)
  }
}

type ZodIssue = z.core.$ZodIssue
type RawIssue = z.core.$ZodRawIssue

/**
 * The messages of every zod issue, in the house wording (`must be one of a, b`), so the
 * same problem reads the same wherever the schema is used. Passed to each parse rather than
 * set globally, so other modules' zod schemas keep their own messages.
 */
export function issueMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required'
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${String(issue.values[0])}`
        : `must be one of ${issue.values.map(String).join(', ')}`
    case 'too_small':
      return sizeMessage(issue.origin, 'at least', issue.minimum, issue.inclusive ?? true)
    case 'too_big':
      return sizeMessage(issue.origin, 'at most', issue.maximum, issue.inclusive ?? true)
    case 'unrecognized_keys':
      return 'unknown key'
    case 'invalid_union': {
      const raw = issue as RawIssue & { note?: string; discriminator?: string; options?: unknown[] }
      if (raw.note === 'No matching discriminator' && raw.discriminator) {
        const input = issue.input as Record<string, unknown> | undefined
        if (input?.[raw.discriminator] === undefined) return 'is required'
        return `must be one of ${(raw.options ?? []).map(String).join(', ')}`
      }
      return undefined
    }
    default:
      return undefined
  }
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'a list',
}

function sizeMessage(
  origin: string,
  bound: 'at least' | 'at most',
  limit: number | bigint,
  inclusive: boolean,
): string {
  const n = Number(limit)
  if (origin === 'array') return `must have ${bound} ${n} ${n === 1 ? 'entry' : 'entries'}`
  if (origin === 'string')
    return n === 1 && bound === 'at least'
      ? 'must not be empty'
      : `must have ${bound} ${n} characters`
  if (inclusive) return `must be ${bound} ${n}`
  return `must be ${bound === 'at least' ? 'greater' : 'less'} than ${n}`
}

/**
 * Flattens zod's issues into task issues. Unions are resolved to the branch the user was
 * evidently writing (the one whose kind of value or whose keys fit), so a typo inside
 * `{ sql: … }` is reported there, not as "matches none of the forms".
 */
export function zodIssues(
  issues: readonly ZodIssue[],
  document: unknown,
  base: IssuePath = [],
): TaskIssue[] {
  const out: TaskIssue[] = []
  for (const issue of issues) {
    const path = [...base, ...issue.path]
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: formatPath([...path, key]), message: issue.message })
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const here = valueAt(document, path)
      const fitting = issue.errors.filter((branch) => !branch.some((i) => wrongKind(i, here)))
      // Failing that, the one branch that takes this kind of value (an object, a list) at all.
      const typed = issue.errors.filter((branch) => !branch.some((i) => wrongType(i, here)))
      const chosen =
        fitting.length === 1
          ? fitting[0]
          : fitting.length === 0 && typed.length === 1
            ? typed[0]
            : undefined
      if (chosen) out.push(...zodIssues(chosen, document, path))
      else out.push({ path: formatPath(path), message: issue.message })
    } else {
      out.push({ path: formatPath(path), message: issue.message })
    }
  }
  return out
}

/** Whether a union branch's issue shows the input is not even that branch's type of value. */
function wrongType(issue: ZodIssue, input: unknown): boolean {
  if (issue.path.length !== 0) return false
  if (issue.code === 'invalid_type') return true
  if (issue.code === 'invalid_value') return typeof input === 'object' && input !== null
  if (issue.code === 'invalid_union') {
    return issue.errors.length > 0 && issue.errors.every((b) => b.some((i) => wrongType(i, input)))
  }
  return false
}

/** Whether a union branch's issue shows the input is not that branch's kind of value at all. */
function wrongKind(issue: ZodIssue, input: unknown): boolean {
  if (issue.path.length === 0) {
    if (issue.code !== 'invalid_union') return wrongType(issue, input)
    // A nested union whose every branch is the wrong kind is itself the wrong kind.
    return issue.errors.length > 0 && issue.errors.every((b) => b.some((i) => wrongKind(i, input)))
  }
  // A required key of the branch is missing (whatever the key's own schema says about
  // undefined): the input is another branch's object.
  return issue.path.length === 1 && valueAt(input, issue.path) === undefined
}

function valueAt(document: unknown, path: IssuePath): unknown {
  let at = document
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<PropertyKey, unknown>)[part]
  }
  return at
}
