/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, or `bench/sync-1m.ts --profile`): where the
 * main thread spent its time, by function (self and inclusive) and by file or package.
 *
 *   node bench/cpuprofile-summary.ts <file.cpuprofile> [top=25] [--match=<regexp>]
 *
 * Inclusive time counts a function once per sample however deep it recurses. `(idle)` is time
 * the thread waited for I/O (databases answering); `(garbage collector)` and `(program)` are
 * V8's own. `--match` adds a line per function whose name or file matches, inclusive.
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith('--'))
if (!file) {
  console.error('usage: node bench/cpuprofile-summary.ts <file.cpuprofile> [top] [--match=re]')
  process.exit(2)
}
const top = Number(args.filter((a) => !a.startsWith('--'))[1] ?? 25)
const matchArg = args.find((a) => a.startsWith('--match='))
const match = matchArg ? new RegExp(matchArg.slice('--match='.length)) : undefined

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

/** Microseconds per node: each sample lasts until the next one. */
const selfUs = new Map<number, number>()
for (let i = 0; i < profile.samples.length; i++) {
  const us = profile.timeDeltas[i + 1] ?? 0
  const id = profile.samples[i]!
  selfUs.set(id, (selfUs.get(id) ?? 0) + us)
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)

function shortUrl(url: string): string {
  if (url === '') return ''
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  const src = url.search(/\/(src|bench|test)\//)
  if (src >= 0) return url.slice(src + 1)
  return url.replace(/^file:\/\//, '')
}
const fnKey = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`
const fileKey = (f: CallFrame) => shortUrl(f.url) || f.functionName

const self = new Map<string, number>()
const selfByFile = new Map<string, number>()
const inclusive = new Map<string, number>()
const inclusiveByFile = new Map<string, number>()
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)

for (const [id, us] of selfUs) {
  const node = byId.get(id)!
  add(self, fnKey(node.callFrame), us)
  add(selfByFile, fileKey(node.callFrame), us)
  const seenFn = new Set<string>()
  const seenFile = new Set<string>()
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
    const f = byId.get(n)!.callFrame
    const k = fnKey(f)
    if (!seenFn.has(k)) {
      seenFn.add(k)
      add(inclusive, k, us)
    }
    const fk = fileKey(f)
    if (!seenFile.has(fk)) {
      seenFile.add(fk)
      add(inclusiveByFile, fk, us)
    }
  }
}

const pct = (us: number) => `${((us * 100) / totalUs).toFixed(1).padStart(5)} %`
const sec = (us: number) => `${(us / 1e6).toFixed(2).padStart(7)} s`
function print(title: string, m: Map<string, number>, n: number, filter?: (k: string) => boolean) {
  console.log(`\n${title}`)
  const rows = [...m].filter(([k]) => !filter || filter(k)).sort((a, b) => b[1] - a[1])
  for (const [k, us] of rows.slice(0, n)) console.log(`  ${sec(us)} ${pct(us)}  ${k}`)
}

console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s sampled`)
print('self time by file / package', selfByFile, top)
print('self time by function', self, top)
const boring = /^\((root|program|idle|garbage collector)\)|processTicksAndRejections|runMicrotasks/
print('inclusive time by function', inclusive, top, (k) => !boring.test(k))
print(
  'inclusive time by file (src/ only)',
  inclusiveByFile,
  top,
  (k) => k.startsWith('src/') || k.startsWith('bench/'),
)
if (match)
  print(`inclusive time of functions matching ${match}`, inclusive, 200, (k) => match.test(k))
