import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'

const BIN = fileURLToPath(new URL('../../bin/opensync.js', import.meta.url))
const SHIPPED = fileURLToPath(new URL('../../profiles/', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'osy-profiles-cli-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node bin/opensync.js …` in `cwd`, with its own data folder and no store URL. */
function cli(
  cwd: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const base: Record<string, string | undefined> = { ...process.env }
  delete base.OPENSYNC_DATABASE_URL
  delete base.OPENSYNC_PROFILES
  delete base.npm_command
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...base, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number) : 0
        resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr })
      },
    )
  })
}

let dirs = 0
function tempDir(): string {
  const dir = join(root, `d${++dirs}`)
  mkdirSync(dir)
  return dir
}

/** A demo CRM and ERP (`opensync demo --no-run`) in a fresh folder, which is the cwd. */
async function demoFolder(): Promise<string> {
  const cwd = tempDir()
  const made = await cli(cwd, ['demo', '--no-run', '--records', '400'])
  expect(made.code, made.stderr).toBe(0)
  return cwd
}

function count(file: string, sql: string): number {
  const db = new Database(file, { readonly: true })
  try {
    return Number((db.prepare(sql).get() as { n: number }).n)
  } finally {
    db.close()
  }
}

interface Counts {
  readonly read: number
  readonly created: number
  readonly updated: number
  readonly deleted: number
}
interface RunJson {
  readonly status: string
  readonly totals: Counts
  readonly counts: Record<string, Record<'0->1' | '1->0', Counts>>
}

describe('opensync profiles', () => {
  it('every profiles command and tasks new has its help with an example', async () => {
    const cwd = tempDir()
    for (const command of [
      ['profiles'],
      ['profiles', 'list'],
      ['profiles', 'show'],
      ['profiles', 'validate'],
      ['tasks', 'new'],
    ]) {
      const r = await cli(cwd, [...command, '--help'])
      const name = command.join(' ')
      expect(r.code, name).toBe(0)
      expect(r.stdout, name).toContain(`Usage: opensync ${name} `)
      expect(r.stdout, name).toMatch(/^Examples?:\n {2}opensync /m)
    }
    const help = await cli(cwd, ['tasks', 'new', '--help'])
    for (const option of [
      '--from <home>',
      '--pair <id>',
      '--param <pair.system.name=value>',
      '--out <file>',
    ])
      expect(help.stdout).toContain(`  ${option}`)
    const missing = await cli(cwd, ['tasks', 'new', 'demo-erp'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/--from <home>/)
  })

  it('lists the shipped profiles', async () => {
    const cwd = tempDir()
    const list = await cli(cwd, ['profiles', 'list'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toMatch(/^demo-crm\s+Demo CRM\s+1\s+sqlite\s+yes\s+0\s/m)
    expect(list.stdout).toMatch(/^postgres\s+PostgreSQL\s+1\s+postgres\s+yes \(pick database\)/m)
    expect(list.stdout).toMatch(/^demo-erp\s+Demo ERP\s+1\s+sqlite\s+—\s+1\s/m)
    const json = JSON.parse((await cli(cwd, ['profiles', 'list', '--json'])).stdout) as {
      id: string
      pairs: string[]
    }[]
    expect(json.find((p) => p.id === 'demo-erp')?.pairs).toEqual(['customers'])
  })

  it('shows what a profile offers', async () => {
    const show = await cli(tempDir(), ['profiles', 'show', 'demo-erp'])
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain('Demo ERP 1 (profile demo-erp, bridge sqlite)')
    expect(show.stdout).toContain(
      'home side: filters sql, keyValue; parameters zip "Postal code" (zip1 = :zip)',
    )
    expect(show.stdout).toContain('field assignments: standard (default), minimal')
    const missing = await cli(tempDir(), ['profiles', 'show', 'nope'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(
      /no system profile "nope" \(known: demo-crm, demo-erp, mailing-pro, mysql, postgres/,
    )
  })

  it('validates files, naming the file and the path of each problem', async () => {
    const cwd = tempDir()
    const good = readFileSync(join(SHIPPED, 'demo-erp.yaml'), 'utf8').replace(
      'profile: demo-erp',
      'profile: mine',
    )
    writeFileSync(join(cwd, 'good.yaml'), good)
    writeFileSync(
      join(cwd, 'bad.yaml'),
      good.replace('directions: [both, home->other, other->home]', 'directions: [both, sideways]'),
    )
    const ok = await cli(cwd, ['profiles', 'validate', 'good.yaml'])
    expect(ok.code, ok.stdout).toBe(0)
    expect(ok.stdout).toBe('ok       good.yaml (mine 1)\n')
    const bad = await cli(cwd, ['profiles', 'validate', 'good.yaml', 'bad.yaml'])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toContain(
      'invalid  bad.yaml: pairs[0].directions[1]: must be one of both, home->other, other->home',
    )
    // Without files: the whole catalogue, OPENSYNC_PROFILES included.
    const all = await cli(cwd, ['profiles', 'validate'], { OPENSYNC_PROFILES: cwd })
    expect(all.code).toBe(2)
    expect(all.stdout).toMatch(/^ok {7}.*demo-crm\.yaml \(demo-crm 1\)$/m)
    expect(all.stdout).toMatch(/^invalid {2}bad\.yaml: pairs\[0\]\.directions\[1\]/m)
  })
})

describe('opensync tasks new --from', () => {
  it('writes a task from the profiles that opensync run runs, filtered by the parameters', async () => {
    const cwd = await demoFolder()
    const crm = join(cwd, 'opensync-demo', 'crm.db')
    const erp = join(cwd, 'opensync-demo', 'erp.db')
    const crmOther = count(crm, "SELECT COUNT(*) AS n FROM addresses WHERE zip1 <> '76137'")
    const erpOther = count(erp, "SELECT COUNT(*) AS n FROM customers WHERE postal_code <> '76137'")
    const crmHere = count(crm, "SELECT COUNT(*) AS n FROM addresses WHERE zip1 = '76137'")
    expect(crmHere).toBeGreaterThan(10)

    const made = await cli(cwd, [
      'tasks',
      'new',
      '--from',
      'demo-crm',
      'demo-erp',
      '--subject',
      'Karlsruhe customers',
      '--param',
      'customers.crm.zip=76137',
      '--param',
      'customers.other.zip=76137',
      '--out',
      'karlsruhe.task.yaml',
    ])
    expect(made.code, made.stderr).toBe(0)
    expect(made.stderr).toContain(
      'Wrote karlsruhe.task.yaml (1 pair). Next: opensync run karlsruhe.task.yaml',
    )
    const doc = parse(readFileSync(join(cwd, 'karlsruhe.task.yaml'), 'utf8'))
    expect(doc.systems.crm).toEqual({
      bridge: 'sqlite',
      connection: { file: crm },
      profile: { id: 'demo-crm', version: '1' },
    })
    expect(doc.pairs[0].crm.filter).toEqual({ sql: 'zip1 = :zip', parameters: { zip: '76137' } })
    expect(doc.pairs[0].erp.filter).toEqual({ keyValue: { postal_code: '76137' } })

    const run = await cli(cwd, ['run', 'karlsruhe.task.yaml', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as RunJson
    expect(result.status).toBe('succeeded')
    expect(result.counts.customers!['0->1'].read).toBe(crmHere)
    // Only Karlsruhe moved: both sides now hold the same Karlsruhe records, the rest is untouched.
    expect(count(erp, "SELECT COUNT(*) AS n FROM customers WHERE postal_code = '76137'")).toBe(
      count(crm, "SELECT COUNT(*) AS n FROM addresses WHERE zip1 = '76137'"),
    )
    expect(count(crm, "SELECT COUNT(*) AS n FROM addresses WHERE zip1 <> '76137'")).toBe(crmOther)
    expect(count(erp, "SELECT COUNT(*) AS n FROM customers WHERE postal_code <> '76137'")).toBe(
      erpOther,
    )

    const again = JSON.parse(
      (await cli(cwd, ['run', 'karlsruhe.task.yaml', '--json'])).stdout,
    ) as RunJson
    expect(again.totals.created + again.totals.updated + again.totals.deleted).toBe(0)
  })

  it('a parameter value is data: an injection attempt matches nothing', async () => {
    const cwd = await demoFolder()
    const crm = join(cwd, 'opensync-demo', 'crm.db')
    const erp = join(cwd, 'opensync-demo', 'erp.db')
    const before = [
      count(crm, 'SELECT COUNT(*) AS n FROM addresses'),
      count(erp, 'SELECT COUNT(*) AS n FROM customers'),
    ]
    const attempt = "x' OR 1=1 --"
    const made = await cli(cwd, [
      'tasks',
      'new',
      '--from',
      'demo-crm',
      'demo-erp',
      '--param',
      `customers.crm.zip=${attempt}`,
      '--param',
      `customers.erp.zip=${attempt}`,
      '--out',
      'attempt.task.yaml',
    ])
    expect(made.code, made.stderr).toBe(0)
    const run = await cli(cwd, ['run', 'attempt.task.yaml', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as RunJson
    expect(result.counts.customers!['0->1'].read).toBe(0)
    expect(result.counts.customers!['1->0'].read).toBe(0)
    expect(result.totals.created + result.totals.updated + result.totals.deleted).toBe(0)
    expect([
      count(crm, 'SELECT COUNT(*) AS n FROM addresses'),
      count(erp, 'SELECT COUNT(*) AS n FROM customers'),
    ]).toEqual(before)
  })

  it('refuses what the profiles do not offer', async () => {
    const cwd = tempDir()
    const pair = await cli(cwd, [
      'tasks',
      'new',
      '--from',
      'demo-crm',
      'demo-erp',
      '--pair',
      'orders',
    ])
    expect(pair.code).toBe(2)
    expect(pair.stderr).toMatch(
      /pair orders is not on offer between demo-crm and demo-erp \(offered: customers\)/,
    )
    const home = await cli(cwd, ['tasks', 'new', '--from', 'demo-erp', 'demo-crm'])
    expect(home.code).toBe(2)
    expect(home.stderr).toMatch(/profile demo-erp cannot be a home system/)
    const misplaced = await cli(cwd, ['tasks', 'list', '--from', 'demo-crm'])
    expect(misplaced.code).toBe(2)
    expect(misplaced.stderr).toMatch(/no option --from/)
  })

  it('tasks show says when the profile offers a newer version; the task runs without it', async () => {
    const cwd = await demoFolder()
    const partner = join(cwd, 'partner')
    mkdirSync(partner)
    const v1 = readFileSync(join(SHIPPED, 'demo-erp.yaml'), 'utf8')
      .replace('profile: demo-erp', 'profile: acme-erp')
      .replace('system: Demo ERP', 'system: ACME ERP')
    writeFileSync(join(partner, 'acme-erp.yaml'), v1)
    const env = { OPENSYNC_PROFILES: partner }
    const made = await cli(
      cwd,
      ['tasks', 'new', '--from', 'demo-crm', 'acme-erp', '--out', 't.yaml'],
      env,
    )
    expect(made.code, made.stderr).toBe(0)
    const imported = await cli(cwd, ['tasks', 'import', 't.yaml'], env)
    expect(imported.code, imported.stderr).toBe(0)
    const id = 'demo-crm-acme-erp'

    const current = await cli(cwd, ['tasks', 'show', id], env)
    expect(current.stdout).toContain('  profile:   erp: acme-erp 1 (current)')
    expect(current.stdout).toContain('  profile:   crm: demo-crm 1 (current)')

    writeFileSync(join(partner, 'acme-erp.yaml'), v1.replace('version: "1"', 'version: "2"'))
    const newer = await cli(cwd, ['tasks', 'show', id], env)
    expect(newer.stdout).toContain(
      '  profile:   erp: acme-erp 1 — the profile now offers version 2',
    )
    const json = JSON.parse((await cli(cwd, ['tasks', 'show', id, '--json'], env)).stdout) as {
      profiles: { system: string; status: string; available?: string }[]
    }
    expect(json.profiles).toContainEqual({
      system: 'erp',
      id: 'acme-erp',
      version: '1',
      status: 'newer',
      available: '2',
    })

    // The profile goes away: the stored task and the file still run, they hold everything.
    rmSync(partner, { recursive: true })
    const gone = await cli(cwd, ['tasks', 'show', id])
    expect(gone.stdout).toContain(
      '  profile:   erp: acme-erp 1 (the profile is no longer installed',
    )
    const stored = await cli(cwd, ['run', id, '--json'])
    expect(stored.code, stored.stderr).toBe(0)
    expect((JSON.parse(stored.stdout) as RunJson).totals.created).toBeGreaterThan(0)
    const file = await cli(cwd, ['run', 't.yaml', '--json'])
    expect(file.code, file.stderr).toBe(0)
  })
})
