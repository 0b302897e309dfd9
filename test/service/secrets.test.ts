import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { builtinBridges, createRegistry } from '../../src/bridges/index.ts'
import { readTaskDocument, substituteEnv, type TaskFile } from '../../src/engine/task/index.ts'
import type { BridgeRegistry, FieldSpec, OpenSyncError } from '../../src/sdk/index.ts'
import {
  isSealed,
  loadSecretKey,
  maskTask,
  mergeSecrets,
  openSecretBox,
  openTask,
  redact,
  SECRET_PLACEHOLDER,
  SecretBox,
  sealTask,
  secretKeyId,
  secretValues,
} from '../../src/service/secrets.ts'

const PASSWORD = 'S3cr3t-pw!'
const URL_WITH_PASSWORD = 'postgres://app:S3cr3t-pw%21@db.internal:5432/crm'
const isPosix = process.platform !== 'win32'

const newBox = () => new SecretBox(randomBytes(32), 'a test key')
const tempDir = () => mkdtemp(join(tmpdir(), 'osy-secrets-'))

/** Runs `fn` and returns what it threw, failing the test when it did not throw. */
function thrown(fn: () => unknown): OpenSyncError {
  try {
    fn()
  } catch (error) {
    return error as OpenSyncError
  }
  throw new Error('expected an error, but none was thrown')
}

async function rejected(promise: Promise<unknown>): Promise<OpenSyncError> {
  try {
    await promise
  } catch (error) {
    return error as OpenSyncError
  }
  throw new Error('expected a rejection, but the promise resolved')
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}

describe('secret box', () => {
  it('gives back what it sealed, whatever the text', () => {
    const box = newBox()
    for (const plain of [PASSWORD, '', 'ü€😀 with spaces', 'x'.repeat(10_000)]) {
      const sealed = box.encrypt(plain)
      expect(isSealed(sealed)).toBe(true)
      expect(sealed.startsWith(`osy1:${box.keyId}:`)).toBe(true)
      expect(box.decrypt(sealed)).toBe(plain)
    }
  })

  it('never writes the plaintext, and seals the same text differently each time', () => {
    const box = newBox()
    const sealed = Array.from({ length: 20 }, () => box.encrypt(PASSWORD))
    expect(new Set(sealed).size).toBe(20)
    expect(new Set(sealed.map((s) => s.split(':')[2])).size).toBe(20) // a fresh IV each time
    for (const s of sealed) {
      expect(s).not.toContain(PASSWORD)
      expect(box.decrypt(s)).toBe(PASSWORD)
    }
  })

  it('names its key by the first 8 hex characters of its SHA-256', () => {
    const key = Buffer.alloc(32, 7)
    const box = new SecretBox(key)
    expect(box.keyId).toMatch(/^[0-9a-f]{8}$/)
    expect(box.keyId).toBe(secretKeyId(key))
    expect(JSON.stringify(box)).not.toContain(key.toString('base64'))
  })

  it('refuses a value whose ciphertext, tag, IV or header was changed', () => {
    const box = newBox()
    const [version, keyId, iv, data, tag] = box.encrypt(PASSWORD).split(':') as [
      string,
      string,
      string,
      string,
      string,
    ]
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url')
      bytes[0]! ^= 1
      return bytes.toString('base64url')
    }
    const tampered = [
      [version, keyId, iv, flip(data), tag],
      [version, keyId, iv, data, flip(tag)],
      [version, keyId, flip(iv), data, tag],
      [version, keyId, iv, data.slice(0, -2), tag],
      [version, keyId, iv, data, tag.slice(0, -2)],
    ]
    for (const parts of tampered) {
      const error = thrown(() => box.decrypt(parts.join(':')))
      expect(error.details.reason).toBe('corrupt')
      expect(error.message).toMatch(/changed or damaged|wrong IV or tag length/)
    }
    expect(thrown(() => box.decrypt(`osy2:${keyId}:${iv}:${data}:${tag}`)).message).toContain(
      'format osy2',
    )
    expect(thrown(() => box.decrypt('not sealed')).details.reason).toBe('corrupt')
  })

  it('refuses to open with another key, naming both key ids and what to do', () => {
    const sealer = newBox()
    const other = new SecretBox(randomBytes(32), 'OPENSYNC_SECRET_KEY')
    const error = thrown(() => other.decrypt(sealer.encrypt(PASSWORD)))
    expect(error.details).toMatchObject({
      reason: 'key-mismatch',
      storedKeyId: sealer.keyId,
      currentKeyId: other.keyId,
    })
    expect(error.message).toBe(
      `stored secrets were encrypted with key ${sealer.keyId}, but the current key (from OPENSYNC_SECRET_KEY) is ${other.keyId}: set OPENSYNC_SECRET_KEY to the original key`,
    )
  })

  it('refuses a key that is not 32 bytes', () => {
    expect(thrown(() => new SecretBox(randomBytes(16))).message).toBe(
      'a secret key must be 32 bytes, not 16',
    )
  })
})

describe('secret key', () => {
  const key = randomBytes(32)

  it('reads OPENSYNC_SECRET_KEY as base64, base64url or hex, and then writes no key file', async () => {
    const dataDir = await tempDir()
    for (const text of [
      key.toString('base64'),
      key.toString('base64url'),
      key.toString('hex'),
      `${key.toString('hex').toUpperCase()}\n`,
    ]) {
      const loaded = await loadSecretKey({ dataDir, env: { OPENSYNC_SECRET_KEY: text } })
      expect(loaded).toEqual({ key, source: 'OPENSYNC_SECRET_KEY', created: false })
    }
    await expect(stat(join(dataDir, 'secret.key'))).rejects.toThrow('ENOENT')
  })

  it('refuses a malformed OPENSYNC_SECRET_KEY, naming the variable and the form, never the value', async () => {
    const dataDir = await tempDir()
    const malformed = [
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      `${key.toString('hex').slice(0, 63)}g`,
      'correct horse battery staple',
      `"${key.toString('base64')}"`,
    ]
    for (const text of malformed) {
      const error = await rejected(loadSecretKey({ dataDir, env: { OPENSYNC_SECRET_KEY: text } }))
      expect(error.details).toMatchObject({ reason: 'key-invalid', field: 'OPENSYNC_SECRET_KEY' })
      expect(error.message).toMatch(
        /^OPENSYNC_SECRET_KEY must be 32 bytes written as base64 \(44 characters.*\) or as 64 hex characters; it has \d+ characters$/,
      )
      expect(error.message).not.toContain(text)
    }
    const empty = await rejected(loadSecretKey({ dataDir, env: { OPENSYNC_SECRET_KEY: ' ' } }))
    expect(empty.message).toMatch(/^OPENSYNC_SECRET_KEY is set but empty/)
  })

  it.runIf(isPosix)(
    'generates the key file with mode 0600 on first use and reuses it after',
    async () => {
      const dataDir = join(await tempDir(), 'data')
      const first = await loadSecretKey({ dataDir, env: {} })
      const path = join(dataDir, 'secret.key')
      expect(first).toMatchObject({ source: path, created: true })
      expect((await stat(path)).mode & 0o777).toBe(0o600)
      expect((await readFile(path, 'utf8')).trim()).toBe(first.key.toString('base64'))
      const again = await loadSecretKey({ dataDir, env: {} })
      expect(again).toEqual({ key: first.key, source: path, created: false })
      const box = await openSecretBox({ dataDir, env: {} })
      expect(box.keyId).toBe(secretKeyId(first.key))
      expect(box.source).toBe(path)
    },
  )

  it.runIf(isPosix)('refuses a key file that group or others can read', async () => {
    const dataDir = await tempDir()
    const path = join(dataDir, 'secret.key')
    await loadSecretKey({ dataDir, env: {} })
    await chmod(path, 0o644)
    const error = await rejected(loadSecretKey({ dataDir, env: {} }))
    expect(error.details.reason).toBe('key-invalid')
    expect(error.message).toBe(
      `secret key file ${path} is open to group or others (mode 0644); run: chmod 600 ${path}`,
    )
  })

  it('refuses a key file that holds no key', async () => {
    const dataDir = await tempDir()
    await writeFile(join(dataDir, 'secret.key'), 'not a key\n', { mode: 0o600 })
    const error = await rejected(loadSecretKey({ dataDir, env: {} }))
    expect(error.message).toMatch(/secret\.key does not hold a key \(expected 32 bytes/)
  })

  it('waits for a key file another process has just created but not yet written', async () => {
    const dataDir = await tempDir()
    const path = join(dataDir, 'secret.key')
    await writeFile(path, '', { mode: 0o600 })
    setTimeout(() => void writeFile(path, `${key.toString('base64')}\n`), 100)
    expect((await loadSecretKey({ dataDir, env: {} })).key).toEqual(key)
  })

  it('gives up on a key file that stays empty, saying it is safe to delete', async () => {
    const dataDir = await tempDir()
    await writeFile(join(dataDir, 'secret.key'), '', { mode: 0o600 })
    const error = await rejected(loadSecretKey({ dataDir, env: {} }))
    expect(error.message).toMatch(/secret\.key is empty .* delete it and start again$/)
  })

  it('refuses to generate a key when told not to (cluster processes)', async () => {
    const dataDir = await tempDir()
    const error = await rejected(loadSecretKey({ dataDir, env: {}, generate: false }))
    expect(error.message).toMatch(
      /^OPENSYNC_SECRET_KEY is not set and there is no key file .*secret\.key; every process that shares a store needs the same key/,
    )
    await expect(stat(join(dataDir, 'secret.key'))).rejects.toThrow('ENOENT')
  })

  it('makes one key when many first uses race in one process', async () => {
    const dataDir = await tempDir()
    const loaded = await Promise.all(
      Array.from({ length: 16 }, () => loadSecretKey({ dataDir, env: {} })),
    )
    expect(new Set(loaded.map((k) => k.key.toString('hex'))).size).toBe(1)
    expect(loaded.filter((k) => k.created)).toHaveLength(1)
  })

  it('makes one key when several processes start at once', async () => {
    const root = await tempDir()
    const module = new URL('../../src/service/secrets-key.ts', import.meta.url).href
    const rounds = 20
    const startAt = Date.now() + 1500
    // In each round every child spins until the same sub-millisecond moment and then reads
    // or creates the key of that round's folder, so the first uses really overlap.
    const script = `
      import { join } from 'node:path'
      import { loadSecretKey } from ${JSON.stringify(module)}
      const now = () => performance.timeOrigin + performance.now()
      await new Promise((r) => setTimeout(r, ${startAt} - 20 - Date.now()))
      for (let round = 0; round < ${rounds}; round++) {
        while (now() < ${startAt} + round * 10) {}
        const dataDir = join(process.argv[1], String(round))
        const { key, created } = await loadSecretKey({ dataDir, env: {} })
        console.log(round, key.toString('hex'), created)
      }`
    const run = promisify(execFile)
    const outputs = await Promise.all(
      Array.from({ length: 6 }, () =>
        run(process.execPath, ['--input-type=module', '-e', script, root]),
      ),
    )
    const lines = outputs.flatMap((o) => o.stdout.trim().split('\n')).map((l) => l.split(' '))
    expect(lines).toHaveLength(6 * rounds)
    for (let round = 0; round < rounds; round++) {
      const ofRound = lines.filter(([r]) => r === String(round))
      const fileKey = (await readFile(join(root, String(round), 'secret.key'), 'utf8')).trim()
      expect(new Set(ofRound.map(([, hex]) => hex))).toEqual(
        new Set([Buffer.from(fileKey, 'base64').toString('hex')]),
      )
      expect(ofRound.filter(([, , created]) => created === 'true')).toHaveLength(1)
    }
  })
})

// The task documents below are read as the service stores them: `${VAR}` kept as written.
const crmErpYaml = `
subject: Addresses to ERP customers
systems:
  crm: { bridge: postgres, connection: { url: "${URL_WITH_PASSWORD}", password: "${PASSWORD}", host: db.internal, user: app, database: crm } }
  erp: { bridge: mysql, connection: { host: 127.0.0.1, port: 3306, user: root, password: "${PASSWORD}", database: erp } }
pairs:
  - crm: { type: addresses }
    erp: { type: customers }
    fields: { name: company_name }
`
const shopErpYaml = `
subject: Shop to ERP
systems:
  shop: { bridge: sqlite, connection: { file: /var/lib/shop/shop.db, readOnly: true, busyTimeout: 5000 } }
  erp: { bridge: mysql, connection: { user: root, password: "\${ERP_PW}", database: erp } }
pairs:
  - shop: { type: customers }
    erp: { type: customers }
    fields: { name: company_name }
`
const read = (yaml: string): TaskFile => readTaskDocument(yaml, { env: false })

const sealedFields = (doc: TaskFile) =>
  Object.fromEntries(
    Object.entries(doc.systems).map(([key, system]) => [
      key,
      Object.keys(system.connection).filter((name) => isSealed(system.connection[name])),
    ]),
  )

describe('task secrets', () => {
  let registry: BridgeRegistry
  const box = newBox()
  beforeAll(async () => {
    registry = await createRegistry()
  })

  it('seals exactly the secret fields of each system: postgres password and url, mysql password, sqlite none', () => {
    expect(sealedFields(sealTask(read(crmErpYaml), box, registry))).toEqual({
      crm: ['url', 'password'],
      erp: ['password'],
    })
    const shop = sealTask(read(shopErpYaml), box, registry)
    expect(sealedFields(shop)).toEqual({ shop: [], erp: [] })
    expect(shop).toEqual(read(shopErpYaml))
  })

  it('leaves everything but the secrets as it was, and the input untouched', () => {
    const doc = deepFreeze(read(crmErpYaml))
    const sealed = sealTask(doc, box, registry)
    expect(JSON.stringify(sealed)).not.toContain('S3cr3t')
    expect(sealed.systems.crm!.connection.host).toBe('db.internal')
    expect(sealed.systems.erp!.connection.port).toBe(3306)
    expect(sealed.pairs).toEqual(doc.pairs)
    expect(sealed.systems.crm!.connection.password).not.toBe(doc.systems.crm!.connection.password)
  })

  it('takes the secret flags from a lookup as well as from a registry', () => {
    const forms = new Map(builtinBridges.map((b) => [b.name, b.connectionFields]))
    const sealed = sealTask(read(crmErpYaml), box, (bridge) => forms.get(bridge))
    expect(sealedFields(sealed)).toEqual({ crm: ['url', 'password'], erp: ['password'] })
  })

  it('opens a sealed task to the document as written', () => {
    const doc = read(crmErpYaml)
    expect(openTask(sealTask(doc, box, registry), box)).toEqual(doc)
  })

  it('does not seal twice', () => {
    const sealed = sealTask(read(crmErpYaml), box, registry)
    expect(sealTask(sealed, box, registry)).toEqual(sealed)
  })

  it('treats every value as secret when the bridge or the field is unknown here', () => {
    const doc = {
      systems: {
        hub: { bridge: 'hubspot', connection: { apiKey: PASSWORD, portal: 'acme' } },
        erp: { bridge: 'mysql', connection: { pasword: PASSWORD, user: 'root' } },
      },
    }
    const sealed = sealTask(doc, box, registry)
    expect(isSealed(sealed.systems.hub.connection.apiKey)).toBe(true)
    expect(isSealed(sealed.systems.hub.connection.portal)).toBe(true)
    expect(isSealed(sealed.systems.erp.connection.pasword)).toBe(true)
    expect(sealed.systems.erp.connection.user).toBe('root')
    expect(openTask(sealed, box)).toEqual(doc)
  })

  it('seals a password written as a number, which opens as text', () => {
    const doc = { systems: { erp: { bridge: 'mysql', connection: { password: 12345 } } } }
    const sealed = sealTask(doc, box, registry)
    expect(isSealed(sealed.systems.erp.connection.password)).toBe(true)
    expect(openTask(sealed, box).systems.erp.connection.password).toBe('12345')
  })

  it('keeps references to environment variables verbatim through seal, mask and open', () => {
    const doc = read(shopErpYaml)
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the reference as written in the file
    const reference = '${ERP_PW}'
    const sealed = sealTask(doc, box, registry)
    expect(sealed.systems.erp!.connection.password).toBe(reference)
    expect(maskTask(sealed, registry).systems.erp!.connection.password).toBe(reference)
    const opened = openTask(sealed, box)
    expect(opened.systems.erp!.connection.password).toBe(reference)
    const resolved = substituteEnv(opened, { ERP_PW: PASSWORD }) as TaskFile
    expect(resolved.systems.erp!.connection.password).toBe(PASSWORD)
  })

  it('seals a value with literal text around a reference, and an escaped $${', () => {
    const doc = {
      systems: {
        crm: {
          bridge: 'postgres',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: references as written in a file
          connection: { url: 'postgres://app:pw@db/${DB}', password: '$${NOT_A_VAR}' },
        },
      },
    }
    const sealed = sealTask(doc, box, registry)
    expect(sealedFields(sealed as unknown as TaskFile)).toEqual({ crm: ['url', 'password'] })
  })

  it('masks every secret, sealed or not, so no plaintext and no ciphertext leaves', () => {
    const doc = read(crmErpYaml)
    for (const masked of [
      maskTask(doc, registry),
      maskTask(sealTask(doc, box, registry), registry),
    ]) {
      const json = JSON.stringify(masked)
      expect(json).not.toContain(PASSWORD)
      expect(json).not.toContain('S3cr3t')
      expect(json).not.toContain('osy1:')
      expect(masked.systems.crm!.connection).toEqual({
        url: SECRET_PLACEHOLDER,
        password: SECRET_PLACEHOLDER,
        host: 'db.internal',
        user: 'app',
        database: 'crm',
      })
      expect(masked.systems.erp!.connection.password).toBe(SECRET_PLACEHOLDER)
      expect(masked.pairs).toEqual(doc.pairs)
    }
  })

  it('shows an empty secret as empty', () => {
    const doc = { systems: { erp: { bridge: 'mysql', connection: { password: '' } } } }
    expect(maskTask(doc, registry)).toEqual(doc)
    expect(sealTask(doc, box, registry)).toEqual(doc)
  })

  it('keeps the stored secret when the placeholder comes back, and takes a new value otherwise', () => {
    const stored = sealTask(read(crmErpYaml), box, registry)
    const edited = structuredClone(maskTask(stored, registry))
    edited.systems.crm!.connection.host = 'db2.internal'
    edited.systems.erp!.connection.password = 'n3w-Passw0rd'

    const merged = mergeSecrets(edited, stored, registry)
    expect(merged.systems.crm!.connection.password).toBe(stored.systems.crm!.connection.password)
    expect(merged.systems.crm!.connection.url).toBe(stored.systems.crm!.connection.url)
    expect(merged.systems.crm!.connection.host).toBe('db2.internal')
    expect(merged.systems.erp!.connection.password).toBe('n3w-Passw0rd')

    const opened = openTask(sealTask(merged, box, registry), box)
    expect(opened.systems.crm!.connection.password).toBe(PASSWORD)
    expect(opened.systems.crm!.connection.url).toBe(URL_WITH_PASSWORD)
    expect(opened.systems.erp!.connection.password).toBe('n3w-Passw0rd')
  })

  it('refuses a placeholder with no stored value to keep: a new task, a new system, another bridge', () => {
    const masked = maskTask(read(crmErpYaml), registry)
    const path = 'systems.crm.connection.url'
    const expected = `${path} is the placeholder ********, but there is no stored value to keep; enter the value`
    for (const stored of [
      undefined,
      { systems: {} },
      { systems: { crm: { bridge: 'mysql', connection: { url: box.encrypt('x') } } } },
    ]) {
      const error = thrown(() => mergeSecrets(masked, stored, registry))
      expect(error.code).toBe('OSY_INVALID_TASK')
      expect(error.details.field).toBe(path)
      expect(error.message).toBe(expected)
    }
    // A caller that skips the merge cannot store the placeholder as the password either.
    expect(thrown(() => sealTask(masked, box, registry)).details.field).toBe(path)
  })

  it('refuses to open with a wrong key, naming the field, and leaves the stored task as it was', () => {
    const stored = deepFreeze(sealTask(read(crmErpYaml), box, registry))
    const before = JSON.stringify(stored)
    const wrong = new SecretBox(randomBytes(32), 'OPENSYNC_SECRET_KEY')
    const error = thrown(() => openTask(stored, wrong))
    expect(error.details).toMatchObject({
      reason: 'key-mismatch',
      field: 'systems.crm.connection.url',
    })
    expect(error.message).toContain(
      `stored secrets were encrypted with key ${box.keyId}, but the current key (from OPENSYNC_SECRET_KEY) is ${wrong.keyId}: set OPENSYNC_SECRET_KEY to the original key`,
    )
    expect(JSON.stringify(stored)).toBe(before)
    expect(openTask(stored, box)).toEqual(read(crmErpYaml))
  })

  it('lists the secret values of an opened task, with the password inside a URL', () => {
    const values = secretValues(read(crmErpYaml), registry)
    expect(values.sort()).toEqual([PASSWORD, URL_WITH_PASSWORD].sort())
    const fields: readonly FieldSpec[] = [
      { name: 'token', label: 'Token', type: 'string', secret: true },
    ]
    expect(
      secretValues(
        { systems: { a: { bridge: 'x', connection: { token: 'tok-123' } } } },
        () => fields,
      ),
    ).toEqual(['tok-123'])
  })
})

describe('redact', () => {
  it('replaces each known secret, also URL-encoded and JSON-escaped', () => {
    const secrets = [PASSWORD, 'pa"ss\\word']
    expect(redact(`login with ${PASSWORD} failed`, secrets)).toBe('login with *** failed')
    expect(redact('host=db password=S3cr3t-pw%21', secrets)).toBe('host=db password=***')
    expect(redact('{"password":"pa\\"ss\\\\word"}', secrets)).toBe('{"password":"***"}')
  })

  it('replaces a secret that contains another one whole', () => {
    expect(redact('token abcd-efgh-ijkl', ['abcd', 'abcd-efgh-ijkl'])).toBe('token ***')
  })

  it('leaves secrets shorter than 4 characters alone', () => {
    expect(redact('role abc of 1', ['abc', '1'])).toBe('role abc of 1')
  })

  it('hides URL passwords it was not told about, keeping user and host', () => {
    expect(redact('cannot reach postgres://app:hunter2@db:5432/crm', [])).toBe(
      'cannot reach postgres://app:***@db:5432/crm',
    )
    expect(redact('mysql://root:p@ss@10.0.0.1/erp and mail me@example.com', [])).toBe(
      'mysql://root:***@10.0.0.1/erp and mail me@example.com',
    )
    expect(redact('"postgres://u:pw@h","me@x"', [])).toBe('"postgres://u:***@h","me@x"')
    expect(redact('postgres://db/crm?user=app&password=hunter2&ssl=1', [])).toBe(
      'postgres://db/crm?user=app&password=***&ssl=1',
    )
    expect(redact('postgres://app@db/crm and https://example.com/a:b@c', [])).toBe(
      'postgres://app@db/crm and https://example.com/a:b@c',
    )
  })
})
