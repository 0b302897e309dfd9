// biome-ignore-all lint/suspicious/noTemplateCurlyInString: task files write ${VAR} in plain strings
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { ProgressLine, type ProgressStream } from '../../src/cli/progress.ts'
import type { PairProgress } from '../../src/engine/pair-run.ts'
import { type Counts, emptyCounts } from '../../src/engine/protocol.ts'

const BIN = fileURLToPath(new URL('../../bin/opensync.js', import.meta.url))

interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node bin/opensync.js …` in `cwd`, without a store URL from the environment. */
function cli(
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const base = { ...process.env }
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

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'osy-cli-'))
}

/** The numbers of a direction row of the summary table (`crm → erp  3,000  1,155 …`). */
function tableRow(stdout: string, label: string): Counts {
  const lines = stdout.split('\n')
  const header = lines.find((l) => /^\s+read\s+created/.test(l))
  const row = lines.find((l) => l.trimStart().startsWith(label))
  expect(header, stdout).toBeDefined()
  expect(row, stdout).toBeDefined()
  const names = header!.trim().split(/\s+/)
  const values = row!.trim().slice(label.length).trim().split(/\s+/)
  expect(values).toHaveLength(names.length)
  const cells = Object.fromEntries(names.map((n, i) => [n, Number(values[i]!.replaceAll(',', ''))]))
  return { unlinked: 0, ...cells } as Counts
}

interface RunJson {
  task: string
  status: string
  dryRun: boolean
  executionId?: number
  totals: Counts
  counts: Record<string, Record<'0->1' | '1->0', Counts>>
  changes: {
    pairId: string
    direction: string
    op: string
    sourceKey: string
    targetKey?: string
    values?: unknown
  }[]
  log: { level: string; message: string }[]
}

function written(r: RunJson): number {
  return r.totals.created + r.totals.updated + r.totals.deleted
}

// Each case is a process of its own: they run side by side.
describe.concurrent('opensync: arguments', () => {
  const cwd = tempDir()

  it('--help prints the usage and exits 0', async () => {
    const r = await cli(cwd, ['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Usage: opensync [options] [command]')
    for (const command of [
      'run [options] <task>',
      'executions [options] <task> [execution]',
      'demo [options] [folder]',
      'bridges',
      'start',
      'api',
      'worker',
      'tasks',
      'migrate',
    ]) {
      // Each command on a line of its own, with its one-line description.
      const line = r.stdout.split('\n').find((l) => l.startsWith(`  ${command} `))
      expect(line, command).toMatch(/ {2}[A-Z]/)
    }
    expect(r.stdout).toMatch(/^Exit codes:$/m)
    expect(r.stderr).toBe('')
  })

  it('every command and subcommand has its own --help with its options and an example', async () => {
    const commands = [
      ['run'],
      ['executions'],
      ['demo'],
      ['bridges'],
      ['start'],
      ['api'],
      ['worker'],
      ['migrate'],
      ['tasks'],
      ...[
        'list',
        'show',
        'import',
        'export',
        'activate',
        'deactivate',
        'delete',
        'start',
        'cancel',
      ].map((sub) => ['tasks', sub]),
    ]
    await Promise.all(
      commands.map(async (command) => {
        const r = await cli(cwd, [...command, '--help'])
        const name = command.join(' ')
        expect(r.code, name).toBe(0)
        expect(r.stdout, name).toContain(`Usage: opensync ${name} `)
        expect(r.stdout, name).toMatch(/^Options:$/m)
        expect(r.stdout, name).toMatch(/^Examples?:\n {2}(\S+=\S+ )*opensync /m)
        // `help <command>` (`tasks help <subcommand>`) says the same.
        const help = [...command.slice(0, -1), 'help', command.at(-1)!]
        expect((await cli(cwd, help)).stdout, name).toBe(r.stdout)
      }),
    )
    const run = await cli(cwd, ['run', '--help'])
    for (const option of ['--dry-run', '--json', '--batch-size <n>', '--store <url>'])
      expect(run.stdout).toContain(`  ${option}`)
    const version = await cli(cwd, ['--version'])
    expect(version.stdout).toMatch(/^opensync \d+\.\d+\.\d+\n$/)
  })

  it('without a command prints the usage to stderr and exits 2', async () => {
    const r = await cli(cwd, [])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('Usage: opensync [options] [command]')
  })

  it('an unknown command exits 2 and names it and the commands there are', async () => {
    const r = await cli(cwd, ['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /^opensync: unknown command "frobnicate"; the commands are run, executions, demo/,
    )
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('an unknown option exits 2 with one short line', async () => {
    const r = await cli(cwd, ['run', 'x.task.yaml', '--frob'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('opensync: unknown option --frob; see opensync --help\n')
  })

  it('an option of another command, a missing or extra argument, a bad number: exit 2', async () => {
    const cases: [string[], string][] = [
      [['bridges', '--dry-run'], 'bridges: no option --dry-run'],
      [['run'], 'run: the task file is missing'],
      [['constructor'], 'unknown command "constructor"'],
      [['run', 'a.yaml', 'b.yaml'], 'run: unexpected argument "b.yaml"'],
      [
        ['run', 'a.yaml', '--batch-size', '0'],
        '--batch-size must be a positive whole number, not "0"',
      ],
      [['run', 'a.yaml', '--store'], 'option --store needs a value'],
    ]
    for (const [args, message] of cases) {
      const r = await cli(cwd, args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toContain(message)
    }
  })

  it('a task file that does not exist exits 2 and names it', async () => {
    const r = await cli(cwd, ['run', 'nowhere.task.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('cannot read task file nowhere.task.yaml: no such file')
  })
})

describe('opensync demo, run, executions', () => {
  const cwd = tempDir()
  const folder = join(cwd, 'demo')
  const taskFile = join(folder, 'demo.task.yaml')
  const crmFile = join(folder, 'crm.db')
  const erpFile = join(folder, 'erp.db')
  /** The databases as the demo creates them, before its run. */
  const before = { addresses: 0, customers: 0, erpOnly: 0, inBoth: 0 }
  let demo: CliResult

  const erpCity = (addressId: number): unknown => {
    const db = new Database(erpFile, { readonly: true })
    try {
      db.prepare('ATTACH DATABASE ? AS crm').run(crmFile)
      return db
        .prepare(
          'SELECT c.town FROM customers c JOIN crm.addresses a ON a.email = c.email WHERE a.id = ?',
        )
        .pluck()
        .get(addressId)
    } finally {
      db.close()
    }
  }

  beforeAll(async () => {
    // The same seed makes the same data: --no-run shows what the demo's run starts from.
    const pre = await cli(cwd, ['demo', 'pre', '--no-run'])
    expect(pre.code, pre.stderr).toBe(0)
    expect(pre.stdout).toContain('Run it: opensync run pre/demo.task.yaml')
    const db = new Database(join(cwd, 'pre', 'erp.db'), { readonly: true })
    db.prepare('ATTACH DATABASE ? AS crm').run(join(cwd, 'pre', 'crm.db'))
    before.addresses = db.prepare('SELECT COUNT(*) FROM crm.addresses').pluck().get() as number
    before.customers = db.prepare('SELECT COUNT(*) FROM customers').pluck().get() as number
    before.inBoth = db
      .prepare('SELECT COUNT(*) FROM customers WHERE email IN (SELECT email FROM crm.addresses)')
      .pluck()
      .get() as number
    before.erpOnly = before.customers - before.inBoth
    db.close()
    expect(existsSync(join(cwd, '.data', 'opensync.db'))).toBe(false)

    const started = Date.now()
    demo = await cli(cwd, ['demo', 'demo'])
    // Fast enough to be the README's first command (generous for a loaded CI machine).
    expect(Date.now() - started).toBeLessThan(20_000)
  })

  it('demo makes what the README promises: 3000 addresses, 60% of them in the ERP, 300 ERP-only', () => {
    expect(before.addresses).toBe(3000)
    expect(before.erpOnly).toBe(300)
    expect(before.inBoth / before.addresses).toBeGreaterThan(0.55)
    expect(before.inBoth / before.addresses).toBeLessThan(0.65)
  })

  it('demo creates crm.db, erp.db and demo.task.yaml, runs the task and exits 0', () => {
    expect(demo.code, demo.stderr).toBe(0)
    expect(demo.stderr).toBe('')
    for (const f of [crmFile, erpFile, taskFile]) expect(existsSync(f), f).toBe(true)
    expect(existsSync(join(cwd, '.data', 'opensync.db'))).toBe(true)
    expect(demo.stdout).toContain('Created the demo in demo/')
    expect(demo.stdout).toMatch(
      /Run of "CRM addresses ↔ ERP customers" succeeded in \d+\.\d s \(execution \d+\)\./,
    )
    expect(demo.stdout).toContain('addresses-customers: crm addresses ↔ erp customers')
    expect(demo.stdout).toContain('opensync run demo/demo.task.yaml')
  })

  it("demo's summary: the companies the ERP has are linked, the rest created, both ways", () => {
    const toErp = tableRow(demo.stdout, 'crm → erp')
    const toCrm = tableRow(demo.stdout, 'erp → crm')
    expect(toErp.read).toBe(before.addresses)
    expect(toErp.created).toBe(before.addresses - before.inBoth)
    expect(toErp.deleted).toBe(0)
    expect(toErp.errors).toBe(0)
    // Linked ones are updated (an older spelling; the CRM wins) or already equal.
    expect(toErp.updated + toErp.unchanged).toBe(before.inBoth)
    expect(toErp.updated).toBe(toErp.conflicts)
    expect(toErp.updated).toBeGreaterThan(0)
    expect(toCrm.created).toBe(before.erpOnly)
    expect(toCrm.updated).toBe(0)
    expect(toCrm.errors).toBe(0)
    expect(demo.stdout).toContain(
      `Written to erp: ${(before.addresses - before.inBoth).toLocaleString('en-US')} created, ${toErp.updated.toLocaleString('en-US')} updated.`,
    )
    expect(demo.stdout).toContain(`Written to crm: ${before.erpOnly} created.`)
    expect(demo.stdout).toContain('field conflicts: the value in crm won.')
  })

  it('after the demo both sides hold every company exactly once', () => {
    const db = new Database(erpFile, { readonly: true })
    try {
      db.prepare('ATTACH DATABASE ? AS crm').run(crmFile)
      const count = (sql: string) => db.prepare(sql).pluck().get() as number
      expect(count('SELECT COUNT(*) FROM customers')).toBe(before.addresses + before.erpOnly)
      expect(count('SELECT COUNT(*) FROM crm.addresses')).toBe(before.addresses + before.erpOnly)
      expect(count('SELECT COUNT(DISTINCT email) FROM customers')).toBe(
        before.addresses + before.erpOnly,
      )
      // Every CRM e-mail exactly once in the ERP, and the other way round.
      expect(
        count(
          'SELECT COUNT(*) FROM crm.addresses a WHERE (SELECT COUNT(*) FROM customers c WHERE c.email = a.email) <> 1',
        ),
      ).toBe(0)
      expect(
        count(
          'SELECT COUNT(*) FROM customers c WHERE (SELECT COUNT(*) FROM crm.addresses a WHERE a.email = c.email) <> 1',
        ),
      ).toBe(0)
      // Field names and formats differ: the country is mapped to its ISO code and back.
      expect(
        db
          .prepare(
            "SELECT DISTINCT a.country || '=' || c.land FROM crm.addresses a JOIN customers c ON c.email = a.email ORDER BY 1",
          )
          .pluck()
          .all(),
      ).toEqual(['Austria=AT', 'France=FR', 'Germany=DE', 'Netherlands=NL', 'Switzerland=CH'])
      // The CRM won the conflicts: every company name is spelled as in the CRM.
      expect(
        count(
          'SELECT COUNT(*) FROM crm.addresses a JOIN customers c ON c.email = a.email WHERE a.company <> c.company_name',
        ),
      ).toBe(0)
    } finally {
      db.close()
    }
  })

  it('a second run writes nothing and exits 0 (--json)', async () => {
    const r = await cli(cwd, ['run', taskFile, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout) as RunJson
    expect(json.status).toBe('succeeded')
    expect(json.dryRun).toBe(false)
    expect(json.task).toMatch(/^demo-[0-9a-f]{8}$/)
    expect(typeof json.executionId).toBe('number')
    expect(written(json)).toBe(0)
    expect(json.totals.errors).toBe(0)
    expect(json.totals.conflicts).toBe(0)
    expect(Object.keys(json.counts)).toEqual(['addresses-customers'])
    expect(Object.keys(json.counts['addresses-customers']!).sort()).toEqual(['0->1', '1->0'])
    expect(json.changes).toEqual([])
    expect(json.log.at(-1)!.message).toMatch(/^run succeeded/)
  })

  it('the summary of a run with nothing to do says so', async () => {
    const r = await cli(cwd, ['run', taskFile])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('Nothing written: the systems were already in step.')
    expect(tableRow(r.stdout, 'crm → erp').created).toBe(0)
    // No progress line when stderr is not a terminal.
    expect(r.stderr).toBe('')
  })

  it('--dry-run reports exactly the one edited record and writes nothing', async () => {
    const crm = new Database(crmFile)
    crm.prepare("UPDATE addresses SET city = 'Bonn' WHERE id = 1").run()
    crm.close()
    const cityBefore = erpCity(1)
    expect(cityBefore).not.toBe('Bonn')

    const r = await cli(cwd, ['run', taskFile, '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout) as RunJson
    expect(json.status).toBe('succeeded')
    expect(json.dryRun).toBe(true)
    expect(json.executionId).toBeUndefined()
    expect(json.changes).toEqual([
      {
        pairId: 'addresses-customers',
        direction: '0->1',
        op: 'update',
        sourceKey: '1',
        targetKey: expect.any(String),
        values: { town: 'Bonn' },
      },
    ])
    expect(json.totals.updated).toBe(1)
    expect(written(json)).toBe(1)
    expect(erpCity(1)).toBe(cityBefore)

    const text = await cli(cwd, ['run', taskFile, '--dry-run'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^Dry run of "CRM addresses ↔ ERP customers" succeeded in/)
    expect(text.stdout).toContain('Would write to erp: 1 updated.')
    expect(text.stdout).toContain('Planned changes (1):')
    expect(text.stdout).toMatch(
      /crm → erp {2}update customers \d+ \(from addresses 1\): town = "Bonn"/,
    )
    expect(text.stdout).toContain('Dry run: nothing was written.')
    expect(erpCity(1)).toBe(cityBefore)
  })

  it('then a real run applies the update, and only it', async () => {
    const r = await cli(cwd, ['run', taskFile, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout) as RunJson
    expect(json.totals).toMatchObject({ created: 0, updated: 1, deleted: 0, errors: 0 })
    expect(json.counts['addresses-customers']!['0->1'].updated).toBe(1)
    expect(erpCity(1)).toBe('Bonn')
    const again = JSON.parse((await cli(cwd, ['run', taskFile, '--json'])).stdout) as RunJson
    expect(written(again)).toBe(0)
  })

  it('executions lists the runs newest first; dry runs are not stored', async () => {
    const r = await cli(cwd, ['executions', taskFile])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(
      /Executions of "CRM addresses ↔ ERP customers" \(task demo-[0-9a-f]{8}\), newest first/,
    )
    const rows = r.stdout
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(\w+)\s+(\w+)\s/.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ id: Number(m[1]), status: m[2], trigger: m[3] }))
    // The demo's run, then: --json, plain, (two dry runs), the update, the check after it.
    expect(rows.map((x) => x.trigger)).toEqual(['cli', 'cli', 'cli', 'cli', 'demo'])
    expect(rows.every((x) => x.status === 'succeeded')).toBe(true)
    const ids = rows.map((x) => x.id)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))

    const json = await cli(cwd, ['executions', taskFile, '--json'])
    const list = JSON.parse(json.stdout) as { id: number; status: string; counts: unknown }[]
    expect(list.map((e) => e.id)).toEqual(ids)
  })

  it("executions <task> <id> prints one run's protocol", async () => {
    const list = JSON.parse((await cli(cwd, ['executions', taskFile, '--json'])).stdout) as {
      id: number
      trigger: string
    }[]
    const demoRun = list.find((e) => e.trigger === 'demo')!
    const r = await cli(cwd, ['executions', taskFile, String(demoRun.id)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(
      `Execution ${demoRun.id} of "CRM addresses ↔ ERP customers": succeeded`,
    )
    expect(r.stdout).toMatch(/Started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d by demo, took \d/)
    expect(r.stdout).toMatch(/Protocol \(\d+ lines\):/)
    expect(r.stdout).toMatch(
      /\d\d:\d\d:\d\d\.\d{3} {2}info {3}run of "CRM addresses ↔ ERP customers" started \(demo\)/,
    )
    expect(r.stdout).toMatch(/info {3}\[addresses-customers\] pair addresses-customers done/)
    expect(r.stdout).toMatch(/info {3}run succeeded: /)
    expect(tableRow(r.stdout, 'erp → crm').created).toBe(before.erpOnly)

    const json = await cli(cwd, ['executions', taskFile, String(demoRun.id), '--json'])
    const one = JSON.parse(json.stdout) as {
      id: number
      status: string
      log: { message: string }[]
    }
    expect(one.id).toBe(demoRun.id)
    expect(one.log[0]!.message).toContain('started (demo)')
  })

  it('executions of an id the task does not have exits 2', async () => {
    const r = await cli(cwd, ['executions', taskFile, '99999'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/task "demo-[0-9a-f]{8}" has no execution 99999/)
  })

  it('--store puts the metadata elsewhere: a new store knows no runs', async () => {
    const store = join(cwd, 'other-store.db')
    const r = await cli(cwd, ['executions', taskFile, '--store', store])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('has never been run')
    expect(existsSync(store)).toBe(true)
  })
})

describe('opensync demo: two demos in one store', () => {
  const cwd = tempDir()

  it('never share links, and a demo made anew starts afresh', async () => {
    const first = await cli(cwd, ['demo', 'one', '--records', '400'])
    expect(first.code, first.stderr).toBe(0)
    // A second demo (not run) in the same store: the same keys, but other records.
    const two = await cli(cwd, ['demo', 'two', '--records', '200', '--no-run'])
    expect(two.code, two.stderr).toBe(0)
    const tasks = ['one', 'two'].map((f) => join(cwd, f, 'demo.task.yaml'))
    const run = async (file: string) => {
      const r = await cli(cwd, ['run', file, '--json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as RunJson
    }
    const runTwo = await run(tasks[1]!)
    expect(runTwo.task).not.toBe((await run(tasks[0]!)).task)
    expect(runTwo.counts['addresses-customers']!['0->1'].read).toBe(200)
    expect(runTwo.counts['addresses-customers']!['1->0'].created).toBe(20)
    expect(runTwo.totals.errors).toBe(0)
    expect(written(await run(tasks[0]!))).toBe(0)
    expect(written(await run(tasks[1]!))).toBe(0)

    // A folder with a demo in it is never overwritten without --force.
    const { readFileSync, statSync } = await import('node:fs')
    const files = ['crm.db', 'erp.db', 'demo.task.yaml'].map((f) => join(cwd, 'one', f))
    const snapshot = () =>
      files.map((f) => [readFileSync(f).toString('base64'), statSync(f).mtimeMs])
    const kept = snapshot()
    const refused = await cli(cwd, ['demo', 'one', '--records', '50'])
    expect(refused.code).toBe(2)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toBe(
      'opensync: demo: one already holds crm.db, erp.db, demo.task.yaml, mailing-pro.json and newsletter.task.yaml; nothing was changed. Add --force to make the demo anew there (overwriting them), or name another folder\n',
    )
    expect((await cli(cwd, ['demo', 'one', '--no-run'])).code).toBe(2)
    expect(snapshot()).toEqual(kept)
    // One file of a demo is enough to refuse: a folder of other files the demo would not touch.
    const { mkdirSync } = await import('node:fs')
    mkdirSync(join(cwd, 'three'))
    writeFileSync(join(cwd, 'three', 'erp.db'), 'mine')
    const partly = await cli(cwd, ['demo', 'three', '--no-run'])
    expect(partly.code).toBe(2)
    expect(partly.stderr).toContain('three already holds erp.db;')
    expect(readFileSync(join(cwd, 'three', 'erp.db'), 'utf8')).toBe('mine')

    // Made anew in the same folder (--force), with or without its run: the same first run as
    // the first time, not one mixed with the links of the old databases.
    const again = await cli(cwd, ['demo', 'one', '--records', '400', '--force'])
    expect(again.code, again.stderr).toBe(0)
    for (const label of ['crm → erp', 'erp → crm'] as const) {
      expect(tableRow(again.stdout, label)).toEqual(tableRow(first.stdout, label))
    }
    const fresh = await cli(cwd, ['demo', 'one', '--records', '400', '--no-run', '--force'])
    expect(fresh.code, fresh.stderr).toBe(0)
    const rerun = await run(tasks[0]!)
    expect(rerun.counts['addresses-customers']!['0->1']).toEqual(
      tableRow(first.stdout, 'crm → erp'),
    )
    expect(rerun.counts['addresses-customers']!['1->0']).toEqual(
      tableRow(first.stdout, 'erp → crm'),
    )
    expect(written(await run(tasks[0]!))).toBe(0)
  })
})

describe('opensync run: interrupted', () => {
  const cwd = tempDir()

  it('Ctrl-C stops the run after the batch in flight: exit 130, cancelled, and the next run finishes', async () => {
    const made = await cli(cwd, ['demo', 'big', '--records', '20000', '--no-run'])
    expect(made.code, made.stderr).toBe(0)
    const taskFile = join(cwd, 'big', 'demo.task.yaml')
    const env = { ...process.env }
    delete env.OPENSYNC_DATABASE_URL
    const child = spawn(process.execPath, [BIN, 'run', taskFile], { cwd, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => resolve(code)),
    )
    // Wait until the execution is recorded as running: the signal handler is in place then.
    const storeFile = join(cwd, '.data', 'opensync.db')
    const deadline = Date.now() + 20_000
    for (;;) {
      if (existsSync(storeFile)) {
        const db = new Database(storeFile, { readonly: true, fileMustExist: true })
        const running = (() => {
          try {
            return db
              .prepare("SELECT COUNT(*) FROM osy_executions WHERE status = 'running'")
              .pluck()
              .get()
          } catch {
            return 0
          } finally {
            db.close()
          }
        })()
        if (running === 1) break
      }
      expect(Date.now(), 'the run never started').toBeLessThan(deadline)
      await new Promise((r) => setTimeout(r, 20))
    }
    child.kill('SIGINT')
    const code = await exited
    expect(code, stdout + stderr).toBe(130)
    expect(stderr).toContain('opensync: interrupted; stopping after the batch in flight')
    expect(stdout).toMatch(/^Run of "CRM addresses ↔ ERP customers" cancelled after/)
    expect(stdout).toContain('Interrupted: the batches committed so far are kept')
    // What the next run reads again, per side: from the last committed batch, by cursor.
    expect(stdout).toMatch(
      /^ {2}crm addresses: the records changed since the last committed batch \(cursor updated_at, and a lag window of \d+ before it/m,
    )
    expect(stdout).toMatch(/^ {2}erp customers: the records changed since .*\(cursor modified/m)

    const list = await cli(cwd, ['executions', taskFile, '--json'])
    expect((JSON.parse(list.stdout) as { status: string }[]).map((e) => e.status)).toEqual([
      'cancelled',
    ])
    const rest = await cli(cwd, ['run', taskFile, '--json'])
    expect(rest.code, rest.stderr).toBe(0)
    const erp = new Database(join(cwd, 'big', 'erp.db'), { readonly: true })
    try {
      expect(erp.prepare('SELECT COUNT(*) FROM customers').pluck().get()).toBe(22_000)
      expect(erp.prepare('SELECT COUNT(DISTINCT email) FROM customers').pluck().get()).toBe(22_000)
    } finally {
      erp.close()
    }
  })
})

describe('opensync run: broken tasks', () => {
  const cwd = tempDir()
  const store = join(cwd, 'store.db')
  const crmFile = join(cwd, 'crm.db')
  const erpFile = join(cwd, 'erp.db')
  beforeAll(() => {
    for (const file of [crmFile, erpFile]) {
      const db = new Database(file)
      db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)')
      db.close()
    }
  })

  const task = (name: string, options: { crmFile?: string; winner?: string } = {}) => {
    const file = join(cwd, `${name}.task.yaml`)
    writeFileSync(
      file,
      `subject: Broken ${name}
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(options.crmFile ?? crmFile)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erpFile)} } }
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
    match: [email]
    conflict: { winner: ${options.winner ?? 'crm'} }
`,
    )
    return file
  }

  it('an invalid task file exits 2 and names the path of the mistake', async () => {
    const r = await cli(cwd, ['run', task('winner', { winner: 'nobody' }), '--store', store])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('winner.task.yaml')
    expect(r.stderr).toContain('pairs[0].conflict.winner: must be one of crm, erp, newest, manual')
  })

  it('a database file that does not exist fails the run (exit 1) and names the file', async () => {
    const missing = join(cwd, 'no-such-crm.db')
    const r = await cli(cwd, ['run', task('missing', { crmFile: missing }), '--store', store])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^Run of "Broken missing" failed after/)
    expect(r.stdout).toContain(`Error: SQLite database file ${missing} does not exist`)
    expect(r.stdout).toContain('[OSY_UNKNOWN_DATABASE]')
    // A failed run does not claim the systems are in step, and says the error once.
    expect(r.stdout).not.toContain('in step')
    expect(r.stdout.split(missing).length - 1).toBe(1)
    expect(r.stdout).toMatch(/The protocol: opensync executions \S+missing\.task\.yaml \d+/)
    expect(existsSync(missing)).toBe(false)

    const json = await cli(cwd, [
      'run',
      task('missing', { crmFile: missing }),
      '--store',
      store,
      '--json',
    ])
    expect(json.code).toBe(1)
    const parsed = JSON.parse(json.stdout) as RunJson & { error: { code: string; message: string } }
    expect(parsed.status).toBe('failed')
    expect(parsed.error.code).toBe('OSY_UNKNOWN_DATABASE')
    expect(parsed.error.message).toContain(missing)
    expect(json.stderr).toContain(missing)

    const list = await cli(cwd, [
      'executions',
      task('missing', { crmFile: missing }),
      '--store',
      store,
    ])
    expect(list.stdout).toMatch(/^\s*\d+\s+failed\s+cli\s/m)
  })

  it('a ${VAR} that is not set exits 2 and names the variable; executions still work', async () => {
    const file = task('env', { crmFile: '${OSY_TEST_CRM_FILE}' })
    const r = await cli(cwd, ['run', file, '--store', store])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('environment variable OSY_TEST_CRM_FILE is not set')
    expect(r.stderr).toContain('systems.crm.connection.file')

    const set = await cli(cwd, ['run', file, '--store', store, '--json'], {
      OSY_TEST_CRM_FILE: crmFile,
    })
    expect(set.code, set.stderr).toBe(0)
    expect((JSON.parse(set.stdout) as RunJson).status).toBe('succeeded')
    // Listing runs needs no secrets.
    const list = await cli(cwd, ['executions', file, '--store', store])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^\s*\d+\s+succeeded\s+cli\s/m)
  })
})

describe('ProgressLine', () => {
  const counts = (over: Partial<Counts>): Counts => ({ ...emptyCounts(), ...over })
  const fake = (isTTY: boolean, columns = 80) => {
    const writes: string[] = []
    const stream: ProgressStream = { isTTY, columns, write: (t: string) => writes.push(t) }
    return { stream, writes }
  }
  const progress = (over: Partial<PairProgress> & { counts: Counts }): PairProgress => ({
    pairId: 'addresses-customers',
    direction: '0->1',
    phase: 'read',
    ...over,
  })

  it('draws records read and written of the pair and direction on a terminal', () => {
    const { stream, writes } = fake(true)
    let now = 1000
    const line = new ProgressLine(stream, { systems: ['crm', 'erp'], now: () => now })
    expect(line.enabled).toBe(true)
    line.update(
      progress({ counts: counts({ read: 3000, created: 1155, updated: 199, conflicts: 199 }) }),
    )
    expect(writes).toHaveLength(1)
    expect(writes[0]).toBe(
      '\r\x1b[2K⠋ addresses-customers crm → erp: 3,000 read, 1,354 written, 199 conflicts',
    )

    now += 150
    line.update(
      progress({ direction: '1->0', counts: counts({ read: 300, created: 300, errors: 1 }) }),
    )
    expect(writes[1]).toBe(
      '\r\x1b[2K⠙ addresses-customers erp → crm: 300 read, 300 written, 1 error',
    )

    line.done()
    expect(writes.at(-1)).toBe('\r\x1b[2K')
    line.done()
    expect(writes).toHaveLength(3)
  })

  it('redraws at most every 100 ms', () => {
    const { stream, writes } = fake(true)
    let now = 0
    const line = new ProgressLine(stream, { systems: ['crm', 'erp'], now: () => now })
    for (let i = 0; i < 10; i++) {
      line.update(progress({ counts: counts({ read: i * 1000 }) }))
      now += 30
    }
    expect(writes.length).toBe(3)
  })

  it('fits the terminal width and says when it checks deletes', () => {
    const { stream, writes } = fake(true, 40)
    const line = new ProgressLine(stream, { systems: ['crm', 'erp'] })
    line.update(progress({ phase: 'deletes', counts: counts({ read: 1_234_567, deleted: 3 }) }))
    const text = writes[0]!.replace('\r\x1b[2K', '')
    expect([...text].length).toBeLessThanOrEqual(39)
    expect(text.endsWith('…')).toBe(true)
    const wide = fake(true, 200)
    new ProgressLine(wide.stream, { systems: ['crm', 'erp'] }).update(
      progress({ phase: 'deletes', counts: counts({ read: 1_234_567, deleted: 3 }) }),
    )
    expect(wide.writes[0]).toContain('crm → erp (checking deletes): 1,234,567 read, 3 written')
  })

  it('writes nothing when the stream is not a terminal', () => {
    const { stream, writes } = fake(false)
    const line = new ProgressLine(stream, { systems: ['crm', 'erp'] })
    expect(line.enabled).toBe(false)
    line.update(progress({ counts: counts({ read: 5 }) }))
    line.done()
    expect(writes).toEqual([])
  })
})

describe('stored tasks', () => {
  it('imports, lists, shows, exports masked, runs by id, queues a start, and deletes only with --yes', async () => {
    const cwd = tempDir()
    const demo = await cli(cwd, ['demo', 'd', '--no-run'])
    expect(demo.code, demo.stderr).toBe(0)
    const file = join(cwd, 'd', 'demo.task.yaml')
    const { readFileSync } = await import('node:fs')
    const text = readFileSync(file, 'utf8').replace(/^id: .*$/m, 'id: stored')
    writeFileSync(file, text)
    const imported = await cli(cwd, ['tasks', 'import', file])
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout).toContain('as task stored')

    const list = await cli(cwd, ['tasks', 'list'])
    expect(list.stdout).toMatch(
      /stored\s+CRM addresses ↔ ERP customers\s+active\s+every 15 minutes/,
    )
    expect(list.stdout).toContain('never executed')

    const run = await cli(cwd, ['run', 'stored', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect((JSON.parse(run.stdout) as RunJson).totals.created).toBeGreaterThan(1000)

    // `executions` takes a stored task's id as `run` does.
    const runs = await cli(cwd, ['executions', 'stored'])
    expect(runs.code, runs.stderr).toBe(0)
    expect(runs.stdout).toContain('Executions of "CRM addresses ↔ ERP customers" (task stored)')
    expect(runs.stdout).toMatch(/^\s*\d+\s+succeeded\s+cli\s/m)
    const executionId = (JSON.parse(run.stdout) as RunJson).executionId!
    const one = await cli(cwd, ['executions', 'stored', String(executionId)])
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toContain(
      `Execution ${executionId} of "CRM addresses ↔ ERP customers": succeeded`,
    )
    expect(tableRow(one.stdout, 'crm → erp').read).toBeGreaterThan(1000)
    const unknown = await cli(cwd, ['executions', 'nosuchtask'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no task "nosuchtask"')

    const show = await cli(cwd, ['tasks', 'show', 'stored'])
    expect(show.stdout).toContain('every 15 minutes')
    expect(show.stdout).toMatch(/succeeded\s+cli/)

    const started = await cli(cwd, ['tasks', 'start', 'stored'])
    expect(started.stdout).toMatch(/Queued execution \d+ of task stored/)
    const again = await cli(cwd, ['tasks', 'start', 'stored'])
    expect(again.stdout).toMatch(/is queued already; it runs once/)

    const exported = await cli(cwd, ['tasks', 'export', 'stored'])
    expect(exported.stdout).toContain('subject: CRM addresses ↔ ERP customers')

    const refused = await cli(cwd, ['tasks', 'delete', 'stored'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('add --yes')
    const deleted = await cli(cwd, ['tasks', 'delete', 'stored', '--yes'])
    expect(deleted.code, deleted.stderr).toBe(0)
    const gone = await cli(cwd, ['tasks', 'show', 'stored'])
    expect(gone.code).toBe(2)
    expect(gone.stderr).toContain('no task "stored"')
  })

  it('tasks list and tasks show say why the last run failed', async () => {
    const cwd = tempDir()
    const missing = join(cwd, 'gone.db')
    const erp = join(cwd, 'erp.db')
    const db = new Database(erp)
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)')
    db.close()
    const file = join(cwd, 'broken.yaml')
    writeFileSync(
      file,
      `id: broken
subject: Broken
systems:
  crm: { bridge: sqlite, connection: { file: ${JSON.stringify(missing)} } }
  erp: { bridge: sqlite, connection: { file: ${JSON.stringify(erp)} } }
pairs:
  - crm: { type: customers }
    erp: { type: customers }
    fields: { email: email }
plan: { kind: manual }
`,
    )
    expect((await cli(cwd, ['tasks', 'import', file])).code).toBe(0)
    const run = await cli(cwd, ['run', 'broken'])
    expect(run.code).toBe(1)
    const reason = `SQLite database file ${missing} does not exist`
    const list = await cli(cwd, ['tasks', 'list'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^broken\s+Broken\s+active\s+manual.*failed \d{4}-/m)
    expect(list.stdout).toContain(`Why the last run failed:\n  broken: ${reason}`)
    expect(list.stdout).toMatch(/\[OSY_UNKNOWN_DATABASE\]$/m)
    const json = JSON.parse((await cli(cwd, ['tasks', 'list', '--json'])).stdout) as {
      lastRun: { status: string; error: { code: string } }
    }[]
    expect(json[0]!.lastRun).toMatchObject({
      status: 'failed',
      error: { code: 'OSY_UNKNOWN_DATABASE' },
    })
    const show = await cli(cwd, ['tasks', 'show', 'broken'])
    expect(show.stdout).toMatch(
      /^ {2}last run: {2}failed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(execution \d+\): /m,
    )
    expect(show.stdout).toContain(reason)
  })

  it('keeps an incomplete task as a draft with --draft, and says what is missing', async () => {
    const cwd = tempDir()
    const file = join(cwd, 'half.yaml')
    writeFileSync(file, 'subject: Half done\nsystems:\n  crm: { bridge: sqlite }\n')
    const refused = await cli(cwd, ['tasks', 'import', file])
    expect(refused.code).toBe(2)
    const draft = await cli(cwd, ['tasks', 'import', file, '--draft'])
    expect(draft.code, draft.stderr).toBe(0)
    expect(draft.stdout).toMatch(/as draft half-done: .*systems/)
    const activate = await cli(cwd, ['tasks', 'activate', 'half-done'])
    expect(activate.code).toBe(2)
    expect(activate.stderr).toContain('is a draft')
    // A draft is not started: the refusal says what is missing, and nothing is queued.
    const start = await cli(cwd, ['tasks', 'start', 'half-done'])
    expect(start.code).toBe(2)
    expect(start.stdout).toBe('')
    expect(start.stderr).toMatch(
      /^opensync: task half-done is a draft: complete it before starting it \(.*systems.*\) \[OSY_TASK_DRAFT\]\n$/,
    )
    const runs = await cli(cwd, ['executions', 'half-done', '--json'])
    expect(runs.code, runs.stderr).toBe(0)
    expect(JSON.parse(runs.stdout)).toEqual([])
  })
})

describe('start --demo (the quick start)', () => {
  it('stores the demo task, runs it on its plan, stops cleanly on SIGTERM, and refuses a second start', async () => {
    const cwd = tempDir()
    const child = spawn(process.execPath, [BIN, 'start', '--demo'], {
      cwd,
      // Port 0: tests running side by side never compete for 8080.
      env: { ...process.env, OPENSYNC_DATABASE_URL: '', OPENSYNC_LISTEN: '127.0.0.1:0' },
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    // Both demo tasks (CRM ↔ ERP, and the newsletter to the MailingPro demo API) run at start.
    const ended = () => (out.match(/"msg":"run ended"/g) ?? []).length >= 2
    for (let i = 0; i < 300 && !ended(); i++) await new Promise((r) => setTimeout(r, 50))
    expect(out).toContain('"status":"succeeded"')
    const url = /OpenSync API: (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(out)?.[1]
    expect(url, out).toBeDefined()
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const second = await cli(cwd, ['start'])
    expect(second.code).toBe(2)
    expect(second.stderr).toMatch(/already running on \.data \(process \d+\)/)
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(0)
    expect(out).toContain('OpenSync stopped')
    const erp = new Database(join(cwd, '.data', 'demo', 'erp.db'), { readonly: true })
    const crm = new Database(join(cwd, '.data', 'demo', 'crm.db'), { readonly: true })
    const n = (db: Database.Database, t: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n
    expect(n(erp, 'customers')).toBe(n(crm, 'addresses'))
    erp.close()
    crm.close()
  })
})
