import type { Argument, Command } from 'commander'
import type { BridgeRegistry } from '../sdk/index.ts'
import type { Store } from '../store/index.ts'

// What every command group shares. Only types and small helpers live here: engine, store and
// bridges are imported inside the actions that need them, so `--help` answers at once.

/** The exit codes of every command (documented in `opensync --help` and the README). */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3, interrupted: 130 } as const

/** What main.ts hands each command group. */
export interface Cli {
  /**
   * Wraps an action that resolves to its exit code, for commander's `.action()`. What it
   * throws is reported by main.ts: a {@link UsageError} or a `user` OpenSyncError exits 2.
   */
  action<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void>
}

/**
 * Registers one group of commands on the program. Each group is a file of its own under
 * `src/cli/commands/`, listed once in main.ts.
 *
 * @example
 * export const profilesCommands: CommandGroup = (program, cli) => {
 *   const profiles = program.command('profiles').description('System profiles')
 *   example(
 *     profiles
 *       .command('list')
 *       .description('Lists the system profiles on offer.')
 *       .option('--json', 'print JSON')
 *       .action(cli.action(async (opts: { json?: boolean }) => { … ; return EXIT.ok })),
 *     'opensync profiles list --json',
 *   )
 * }
 */
export type CommandGroup = (program: Command, cli: Cli) => void

/** A mistake in how a command was called: exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** A {@link UsageError} with the message. */
export function usage(message: string): UsageError {
  return new UsageError(message)
}

/** Writes a line (or lines) to stdout. */
export function write(text: string): void {
  process.stdout.write(`${text}\n`)
}

/** JSON for people and scripts: indented, bigints as text. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
}

/** Bytes of JSON text gathered before each write of {@link writeJson}. */
const JSON_CHUNK = 64 * 1024

/**
 * Writes `toJson(object)` and a newline to stdout, the same text, but the object's arrays an
 * element at a time: a run's summary holds up to 10,000 changes with their values, whose
 * text alone (~5 MB) and its building raised a million-row run's peak RSS by ~30 MB.
 */
export function writeJson(object: Readonly<Record<string, unknown>>): void {
  const arrays = new Map<string, readonly unknown[]>()
  const shallow: Record<string, unknown> = {}
  const mark = `@@opensync-${process.pid}-${Date.now()}-`
  for (const [key, value] of Object.entries(object)) {
    if (Array.isArray(value) && value.length > 0) {
      shallow[key] = `${mark}${arrays.size}`
      arrays.set(`"${mark}${arrays.size}"`, value)
    } else shallow[key] = value
  }
  let text = toJson(shallow)
  let out = ''
  const flush = () => {
    process.stdout.write(out)
    out = ''
  }
  for (const [placeholder, array] of arrays) {
    const at = text.indexOf(placeholder)
    out += `${text.slice(0, at)}[`
    array.forEach((element, i) => {
      // What JSON.stringify writes for an element one level down: its lines indented by 4.
      const json = (toJson(element) as string | undefined) ?? 'null'
      out += `${i === 0 ? '' : ','}\n    ${json.replaceAll('\n', '\n    ')}`
      if (out.length >= JSON_CHUNK) flush()
    })
    out += '\n  ]'
    text = text.slice(at + placeholder.length)
  }
  out += `${text}\n`
  flush()
}

/** A parser of a positive whole number, for an option or argument named `what`. */
export function positiveInt(what: string): (text: string) => number {
  return (text) => {
    const n = Number(text)
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw usage(`${what} must be a positive whole number, not "${text}"`)
    }
    return n
  }
}

/** The words a missing argument is called in "run: the task file is missing". */
const WHAT = new WeakMap<Argument, string>()

/** Names an argument for the message that says it is missing (`the task file`). */
export function describeArgument(command: Command, name: string, what: string): Command {
  const arg = command.registeredArguments.find((a) => a.name() === name)
  if (arg) WHAT.set(arg, what)
  return command
}

/** The words for a missing argument, or its name. */
export function argumentWords(arg: Argument): string {
  return WHAT.get(arg) ?? `argument <${arg.name()}>`
}

/** Adds an `Example:` section to a command's help. */
export function example(command: Command, ...lines: readonly string[]): Command {
  return command.addHelpText(
    'after',
    `\n${lines.length === 1 ? 'Example' : 'Examples'}:\n${lines.map((l) => `  ${l}`).join('\n')}`,
  )
}

/** Options of a command that uses the metadata store. */
export interface StoreOption {
  readonly store?: string
}

/** Adds `--store <url>`. */
export function storeOption(command: Command): Command {
  return command.option(
    '--store <url>',
    'the metadata store: a SQLite file, sqlite:<file> or postgres://… (default $OPENSYNC_DATABASE_URL, else .data/opensync.db)',
  )
}

/** The store URL of a command: `--store`, else $OPENSYNC_DATABASE_URL; undefined for the default. */
export function storeUrlOf(opts: StoreOption): string | undefined {
  return opts.store || process.env.OPENSYNC_DATABASE_URL || undefined
}

/** Opens the store of a command (`--store`, $OPENSYNC_DATABASE_URL or the default), runs fn, closes it. */
export async function withStore<T>(
  opts: StoreOption,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const { openStore } = await import('../store/index.ts')
  const url = storeUrlOf(opts)
  const store = await openStore(url ? { url } : {})
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/** The bridge registry: the built-in bridges plus the packages named in $OPENSYNC_BRIDGES. */
export async function registry(): Promise<BridgeRegistry> {
  const { createRegistry } = await import('../bridges/index.ts')
  return createRegistry(splitList(process.env.OPENSYNC_BRIDGES))
}

/** `a, b,c` → `['a', 'b', 'c']`. */
export function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** `a, b and c`. */
export function andList(items: readonly string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
