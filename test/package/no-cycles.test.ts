import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Every TypeScript file under a folder, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/**
 * Which files each file imports, type-only imports, re-exports and `import()` included (a
 * type import is an arrow too: it says which module has to be read first), by path relative
 * to the repository. The TypeScript compiler's own scanner finds the specifiers, so imports
 * inside comments and strings do not count.
 */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    const targets = importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(root, resolve(dirname(file), name)))
    graph.set(relative(root, file), [...new Set(targets)])
  }
  return graph
}

/**
 * The import circles of a graph: each strongly connected component of more than one file
 * (or a file importing itself), as its files in sorted order (Tarjan's algorithm).
 */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[][] = []
  let next = 0
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop()!
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || graph.get(v)?.includes(v)) out.push(component.sort())
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return out
}

describe('imports point one way', () => {
  it('no module in src/ imports itself through others (no import cycle)', () => {
    const graph = importGraph(sources(join(root, 'src')))
    expect(graph.size).toBeGreaterThan(50)
    // Types two modules share go into a module below both (as src/store/types.ts does for
    // the store, its repositories and its migrations).
    expect(cycles(graph), 'import cycles in src/').toEqual([])
  })

  it('the cycle finder finds a circle of three files, and a file importing itself', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts', 'd.ts']],
    ])
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']])
  })

  it('the import graph sees type imports and re-exports', () => {
    const graph = importGraph([join(root, 'src/store/index.ts'), join(root, 'src/store/store.ts')])
    expect(graph.get('src/store/index.ts')).toContain('src/store/store.ts')
    expect(graph.get('src/store/store.ts')).toContain('src/store/link-repo.ts')
  })
})
