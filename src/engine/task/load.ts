import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { parseDocument, type YAMLError } from 'yaml'
import { OpenSyncError } from '../../sdk/index.ts'
import { compileTask } from './compile-task.ts'
import { type Env, substituteEnv } from './env.ts'
import type { ResolvedTask } from './resolved-task.ts'
import { type TaskFile, validateTaskFile } from './task-file-schema.ts'
import { invalidTask } from './task-issues.ts'

/** How to read a task file's text. */
export interface ParseTaskFileOptions {
  /** `yaml` (the default) also reads JSON, which is a subset of YAML. */
  readonly format?: 'yaml' | 'json'
  /**
   * Where `${VAR}` values come from (default `process.env`). `false` leaves the references
   * as written, e.g. to export a task without its secrets.
   */
  readonly env?: Env | false
  /** Where the text came from (a file path), for error messages. */
  readonly source?: string
}

/**
 * Reads a task document: parse, substitute `${VAR}`, validate — everything but building
 * the engine's form, so the result can be stored or exported as the user wrote it (with
 * defaults filled in). The document is also compiled once and the result dropped, so a
 * document this accepts always runs: the checks of {@link compileTask} apply too.
 */
export function readTaskDocument(text: string, options: ParseTaskFileOptions = {}): TaskFile {
  const file = validated(text, options)
  compileTask(file, options.source === undefined ? {} : { source: options.source })
  return file
}

/** Parses, validates and compiles a task file's text into the task the engine runs. */
export function parseTaskFile(text: string, options: ParseTaskFileOptions = {}): ResolvedTask {
  return compileTask(
    validated(text, options),
    options.source === undefined ? {} : { source: options.source },
  )
}

/** Loads a task file (`.json` is read as JSON, anything else as YAML) and compiles it. */
export async function loadTaskFile(path: string, env: Env = process.env): Promise<ResolvedTask> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : String((error as Error).message)
    throw new OpenSyncError('OSY_INVALID_TASK', `cannot read task file ${path}: ${reason}`, {
      cause: error,
      details: { source: path },
    })
  }
  const format = extname(path).toLowerCase() === '.json' ? 'json' : 'yaml'
  return parseTaskFile(text, { format, env, source: path })
}

function validated(text: string, options: ParseTaskFileOptions): TaskFile {
  const document = parseText(text, options.format ?? 'yaml', options.source)
  const env = options.env ?? process.env
  const substituted = env === false ? document : substituteEnv(document, env, options.source)
  return validateTaskFile(substituted, options.source)
}

function parseText(text: string, format: 'yaml' | 'json', source?: string): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text)
    } catch (error) {
      throw invalidTask(
        [{ path: '', message: `not valid JSON: ${(error as Error).message}` }],
        source,
      )
    }
  }
  // parseDocument rather than parse: parse() prints warnings to the console itself.
  const document = parseDocument(text, { prettyErrors: true })
  const problems = [...document.errors, ...document.warnings]
  if (problems.length > 0) {
    const issues = problems.map((p) => ({ path: '', message: yamlProblem(p, text) }))
    throw invalidTask(issues, source)
  }
  try {
    return document.toJS({ maxAliasCount: 100 })
  } catch (error) {
    throw invalidTask(
      [{ path: '', message: `not valid YAML: ${(error as Error).message}` }],
      source,
    )
  }
}

/**
 * A YAML problem for a person: the line (and column) of the fault and the key written there,
 * never the line's value, which may be a secret written inline. An unclosed `{` or `[` is
 * reported where the parser noticed it, often lines later: the line that opened it is named.
 */
export function yamlProblem(p: YAMLError, text: string): string {
  const lines = text.split(/\r?\n/)
  let line = p.linePos?.[0].line
  let col = p.linePos?.[0].col
  let what = (p.message.split('\n')[0] ?? p.message).replace(/ at line \d+, column \d+:?$/, '')
  const flow = /^Flow (map|sequence) in block collection/.exec(what)
  if (flow && line !== undefined) {
    const [open, close] = flow[1] === 'map' ? ['{', '}'] : ['[', ']']
    for (let l = line - 1; l >= 1; l--) {
      const t = lines[l - 1] ?? ''
      if (t.split(open).length > t.split(close).length) {
        what = `the flow ${flow[1]} opened with ${open} here is never closed with ${close} (or a line after it is not indented enough)`
        line = l
        col = t.lastIndexOf(open) + 1
        break
      }
    }
  }
  if (line === undefined) return `not valid YAML: ${what}`
  const key = /^\s*(?:-\s+)?([^\s:#{}[\]][^:#{}[\]]*?)\s*:(?:\s|$)/.exec(lines[line - 1] ?? '')?.[1]
  return `not valid YAML at line ${line}, column ${col}${key ? ` (at "${key}:")` : ''}: ${what}`
}
