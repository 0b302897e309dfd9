// Builds the console into console/dist when it is missing or older than its sources. Run by
// `npm ci`/`npm install` (prepare), by `npm start` (prestart) and by the browser tests, so
// every way in ends with a console that matches the checkout. `--force` builds anyway.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.built')

/** The newest modification time among the console's sources and the lock file. */
function newestSource(): number {
  let newest = 0
  const visit = (path: string) => {
    const stat = statSync(path)
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name))
    else newest = Math.max(newest, stat.mtimeMs)
  }
  for (const path of ['src', 'index.html', 'vite.config.ts', '../package-lock.json']) {
    if (existsSync(join(root, path))) visit(join(root, path))
  }
  return newest
}

/** True when console/dist is there and newer than every source. */
export function consoleIsFresh(): boolean {
  return existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()
}

/**
 * Brotli and gzip copies next to each script, style and page, which the server sends to a
 * browser that accepts them (@fastify/static's preCompressed): compressed once here, not
 * on every request.
 */
function compressAssets(dir: string): void {
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!/\.(js|css|html|svg|json)$/.test(name)) continue
    const data = readFileSync(join(dir, name))
    writeFileSync(
      join(dir, `${name}.br`),
      brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    )
    writeFileSync(join(dir, `${name}.gz`), gzipSync(data, { level: 9 }))
  }
}

/** Builds the console unless it is fresh (or vite is not installed: a production install). */
export async function buildConsole(force = false): Promise<'built' | 'fresh' | 'skipped'> {
  if (!force && consoleIsFresh()) return 'fresh'
  let vite: typeof import('vite')
  try {
    vite = await import('vite')
  } catch {
    return 'skipped'
  }
  await vite.build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' })
  compressAssets(join(root, 'dist'))
  writeFileSync(stamp, `${new Date().toISOString()}\n`)
  return 'built'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  const result = await buildConsole(process.argv.includes('--force'))
  if (result === 'built')
    console.log(`console built into console/dist in ${Date.now() - started} ms`)
  if (result === 'skipped') console.log('console: vite is not installed, console/dist not built')
}
