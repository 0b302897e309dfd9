import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { builtinBridges, createRegistry } from '../../src/bridges/index.ts'
import { BridgeRegistry, silentLogger } from '../../src/sdk/index.ts'

const example = new URL('../../examples/json-file-bridge/index.ts', import.meta.url).href

describe('bridge registry', () => {
  it('knows the built-in bridges by name', async () => {
    const registry = await createRegistry()
    expect(registry.list().map((b) => b.name)).toEqual([
      'postgres',
      'mysql',
      'sqlite',
      'rest',
      'csv',
    ])
    expect(
      registry.get('postgres').connectionFields.find((f) => f.name === 'password')?.secret,
    ).toBe(true)
  })

  it('names the known bridges when asked for an unknown one', async () => {
    const registry = await createRegistry()
    expect(() => registry.get('oracle')).toThrow(
      'unknown bridge "oracle" (known: postgres, mysql, sqlite, rest, csv)',
    )
  })

  it('loads a third-party bridge module and uses it end to end', async () => {
    const registry = await createRegistry([example])
    const bridge = registry.get('json-file')
    const folder = await mkdtemp(join(tmpdir(), 'osy-json-'))
    await writeFile(join(folder, 'people.json'), JSON.stringify([{ id: 'a', name: 'Ann' }]))
    const conn = await bridge.connect({ folder }, { log: silentLogger })
    await conn.check()
    expect((await conn.discover()).map((t) => t.name)).toEqual(['people'])
    const results = await conn.write('people', [
      { op: 'create', values: { id: 'b', name: 'Bo' } },
      { op: 'create', values: { id: 'a', name: 'again' } },
    ])
    expect(results.map((r) => r.ok)).toEqual([true, false])
    const names: unknown[] = []
    for await (const batch of conn.read('people'))
      names.push(...batch.records.map((r) => r.values.name))
    expect(names).toEqual(['Ann', 'Bo'])
  })

  it('refuses a module that does not export a bridge, and duplicate names', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'osy-bad-'))
    const file = join(folder, 'bad.mjs')
    await writeFile(file, 'export default { name: "Bad Name" }')
    const registry = new BridgeRegistry(builtinBridges)
    await expect(registry.load(file)).rejects.toThrow(
      /not a valid bridge: name must be lower-case.*connect\(\) is missing/,
    )
    await expect(registry.load(join(folder, 'missing.mjs'))).rejects.toThrow(
      /cannot load bridge package/,
    )
    expect(() => registry.register(builtinBridges[0]!)).toThrow(
      'a bridge named "postgres" is already registered',
    )
  })
})
