import { readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
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
  it('no test, benchmark or source file names a path outside the repository', () => {
    const offenders: string[] = []
    for (const file of ['test', 'bench', 'src', 'bin'].flatMap((d) => sources(join(root, d)))) {
      for (const [, path] of readFileSync(file, 'utf8').matchAll(/['"`]((?:\.\.\/)+[^'"`]*)/g)) {
        // Paths in `new URL(…, import.meta.url)` and imports are relative to the file.
        const target = relative(root, resolve(dirname(file), path!))
        if (target.startsWith('..')) offenders.push(`${relative(root, file)}: ${path}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('a test run keeps its temporary folders in one of its own, removed when it ends', () => {
    // test/support/temp-root.ts, Vitest's global setup: TMPDIR for every test file and child.
    expect(tmpdir()).toMatch(/[/\\]osy-test-run-[^/\\]+$/)
    expect(process.env.TMPDIR).toBe(tmpdir())
  })

  it('the Chinook fixtures carry their licence', () => {
    const licence = readFileSync(join(root, 'test/fixtures/chinook/LICENSE.md'), 'utf8')
    expect(licence).toContain('Permission is hereby granted')
  })
})
