import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Every source file under a folder, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : sources(path)
    return /\.(ts|js|mjs|sh)$/.test(entry.name) ? [path] : []
  })
}

// A user who clones the repository has nothing beside it: `npm test` must not reach outside.
describe('the repository is self-contained', () => {
  it('no test, benchmark or source file reads ../shared', () => {
    const offenders = ['test', 'bench', 'src', 'bin']
      .flatMap((d) => sources(join(root, d)))
      .filter((file) =>
        /\.\.\/(?:\.\.\/)*shared\b|shared\/datasets/.test(readFileSync(file, 'utf8')),
      )
      .map((file) => relative(root, file))
      .filter((file) => file !== 'test/package/self-contained.test.ts')
    expect(offenders).toEqual([])
  })

  it('the Chinook fixtures carry their licence', () => {
    const licence = readFileSync(join(root, 'test/fixtures/chinook/LICENSE.md'), 'utf8')
    expect(licence).toContain('Permission is hereby granted')
  })
})
