import { parseArgs } from 'node:util'
import { createRegistry } from '../bridges/index.ts'
import { runTask } from '../engine/run-task.ts'
import { loadTaskFile } from '../engine/task/index.ts'
import { coerceError, isOpenSyncError } from '../sdk/index.ts'
import { openStore, type Store } from '../store/index.ts'
import { runDemo } from './demo.ts'
import { logLines, summary } from './format.ts'
import { ProgressLine } from './progress.ts'

const HELP = `opensync — keeps records of two systems in step

Usage:
  opensync run <task file> [--dry-run] [--json] [--store <url>] [--batch-size <n>]
      Runs a task once. --dry-run reports what would change and writes nothing.
  opensync executions <task file> [<execution id>] [--json] [--store <url>]
      Lists the task's past runs, or shows one run's protocol.
  opensync demo [<folder>] [--records <n>] [--no-run]
      Creates a CRM and an ERP demo database (SQLite) and a task between them, and runs it.
  opensync bridges [--json]
      Lists the available bridges and their connection fields.
  opensync migrate [--store <url>]
      Creates or upgrades the metadata store.

The metadata store is --store, else $OPENSYNC_DATABASE_URL, else .data/opensync.db (SQLite).
Extra bridge packages: OPENSYNC_BRIDGES=pkg1,pkg2. Exit codes: 0 success, 1 run failed, 2 bad input.`

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const { values: opts, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      store: { type: 'string' },
      'batch-size': { type: 'string' },
      records: { type: 'string' },
      'no-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'v', default: false },
    },
  })
  const [command, ...args] = positionals
  if (opts.version) {
    process.stdout.write('opensync 0.1.0\n')
    return 0
  }
  if (opts.help || !command) {
    process.stdout.write(`${HELP}\n`)
    return command || opts.help ? 0 : 2
  }
  const storeUrl = opts.store ?? process.env.OPENSYNC_DATABASE_URL
  const registry = await createRegistry(splitList(process.env.OPENSYNC_BRIDGES))
  const withStore = async <T>(fn: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openStore(storeUrl ? { url: storeUrl } : {})
    try {
      return await fn(store)
    } finally {
      await store.close()
    }
  }

  switch (command) {
    case 'run': {
      const file = need(args[0], 'a task file')
      const task = await loadTaskFile(file)
      const batchSize = opts['batch-size'] ? positiveInt(opts['batch-size'], '--batch-size') : undefined
      const progress = new ProgressLine(process.stderr, !opts.json && process.stderr.isTTY === true)
      const abort = new AbortController()
      const onSignal = () => abort.abort(new Error('interrupted'))
      process.once('SIGINT', onSignal)
      try {
        const result = await withStore((store) =>
          runTask(task, {
            store,
            registry,
            dryRun: opts['dry-run'],
            trigger: 'cli',
            signal: abort.signal,
            ...(batchSize ? { batchSize } : {}),
            onProgress: (p) => progress.update(p),
          }),
        )
        progress.done()
        process.stdout.write(opts.json ? `${JSON.stringify({ task: task.id, ...result }, jsonReplacer, 2)}\n` : `${summary(task, result)}\n`)
        return result.status === 'succeeded' ? 0 : 1
      } finally {
        process.off('SIGINT', onSignal)
      }
    }
    case 'executions': {
      const file = need(args[0], 'a task file')
      const task = await loadTaskFile(file)
      return withStore(async (store) => {
        if (args[1]) {
          const id = positiveInt(args[1], 'execution id')
          const row = await store.executions.get(id)
          if (!row || row.taskId !== task.id) throw usage(`no execution ${id} of task ${task.id}`)
          const logs = await store.executions.logs(id)
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ ...row, log: logs }, jsonReplacer, 2)}\n`
              : `execution ${row.id}: ${row.status} (${row.trigger}${row.dryRun ? ', dry run' : ''}), ${row.startedAt} – ${row.endedAt ?? 'running'}\n\n${logLines(logs)}\n`,
          )
          return 0
        }
        const rows = await store.executions.list(task.id, 20)
        if (opts.json) process.stdout.write(`${JSON.stringify(rows, jsonReplacer, 2)}\n`)
        else if (rows.length === 0) process.stdout.write(`task ${task.id} has never been executed\n`)
        else {
          process.stdout.write('id     status     trigger  started                    created  updated  deleted  errors\n')
          for (const r of rows) {
            const t = totals(r.counts)
            process.stdout.write(
              `${String(r.id).padEnd(6)} ${r.status.padEnd(10)} ${r.trigger.padEnd(8)} ${r.startedAt.padEnd(26)} ${String(t.created).padStart(7)}  ${String(t.updated).padStart(7)}  ${String(t.deleted).padStart(7)}  ${String(t.errors).padStart(6)}\n`,
            )
          }
        }
        return 0
      })
    }
    case 'demo': {
      const records = opts.records ? positiveInt(opts.records, '--records') : undefined
      return runDemo({ folder: args[0] ?? 'opensync-demo', ...(records ? { records } : {}), run: !opts['no-run'], registry, ...(storeUrl ? { storeUrl } : {}) })
    }
    case 'bridges': {
      const list = registry.list().map((b) => ({ name: b.name, title: b.title, version: b.version, filterKinds: b.filterKinds, connectionFields: b.connectionFields }))
      if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`)
      else {
        for (const b of list) {
          process.stdout.write(`${b.name.padEnd(10)} ${b.title} ${b.version} (filters: ${b.filterKinds.join(', ')})\n`)
          for (const f of b.connectionFields) {
            const extra = [f.required ? 'required' : '', f.secret ? 'secret' : '', f.default !== undefined ? `default ${f.default}` : ''].filter(Boolean).join(', ')
            process.stdout.write(`    ${f.name.padEnd(16)} ${f.label}${extra ? ` (${extra})` : ''}\n`)
          }
        }
      }
      return 0
    }
    case 'migrate':
      await withStore(async (store) => {
        process.stdout.write(`metadata store is up to date (${store.dialect})\n`)
      })
      return 0
    default:
      throw usage(`unknown command "${command}"; see opensync --help`)
  }
}

function totals(counts: Record<string, Record<string, Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = { created: 0, updated: 0, deleted: 0, errors: 0 }
  for (const pair of Object.values(counts ?? {})) {
    for (const c of Object.values(pair)) for (const k of Object.keys(out)) out[k]! += c[k] ?? 0
  }
  return out
}

class UsageError extends Error {}

function usage(message: string): UsageError {
  return new UsageError(message)
}

function need(value: string | undefined, what: string): string {
  if (!value) throw usage(`missing ${what}; see opensync --help`)
  return value
}

function positiveInt(text: string, what: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw usage(`${what} must be a positive whole number, not "${text}"`)
  return n
}

function splitList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

/** Prints an error for a person and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof UsageError || (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`opensync: ${error.message}\n`)
    return 2
  }
  const e = coerceError(error)
  process.stderr.write(`opensync: ${e.message}${isOpenSyncError(error) ? ` [${e.code}]` : ''}\n`)
  if (e.kind === 'bug' && e.cause instanceof Error && e.cause.stack) process.stderr.write(`${e.cause.stack}\n`)
  return e.kind === 'user' ? 2 : 1
}
