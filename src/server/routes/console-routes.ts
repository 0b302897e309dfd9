import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import { OpenSyncError } from '../../sdk/errors.ts'
import type { RoutePlugin } from './route-plugin.ts'

/** Where `npm run console:build` (run by npm ci and npm start) puts the console. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../console/dist/', import.meta.url))

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OpenSync</title></head>
<body><main><h1>The console is not built</h1><p>Run <code>npm run console:build</code> (npm ci and npm start do it) and reload.</p></main></body></html>`

/**
 * The web console (console/dist) on the API's origin: its files under /assets with a long
 * cache (their names carry a hash), and index.html for every other path that is not the
 * API's, so the console's own routes (/tasks/…, /setup?token=…) load it and it routes itself.
 * Public like a sign-in page: the console asks the API, which checks every request.
 */
export function consoleRoutesFrom(root: string): RoutePlugin {
  return async (app) => {
    await app.register(fastifyStatic, { root, serve: false, preCompressed: true })
    const page = { config: { access: 'public' as const }, schema: { hide: true } }

    app.get('/assets/*', page, (request, reply) => {
      const file = (request.params as { '*': string })['*']
      // Their names carry a hash of their content: a browser may keep them for good.
      return reply.sendFile(`assets/${file}`, { maxAge: '365d', immutable: true })
    })
    app.get('/*', page, (request, reply) => {
      const path = request.url.split('?')[0]!
      if (path === '/api' || path.startsWith('/api/')) {
        throw new OpenSyncError('OSY_NOT_FOUND', `no route ${request.method} ${path}`)
      }
      if (!existsSync(`${root}index.html`)) return reply.type('text/html').send(NOT_BUILT)
      // Files at the top of dist (favicon) as they are; any other path is a route of the console.
      const top = path.slice(1)
      if (top !== '' && !top.includes('/') && existsSync(`${root}${top}`) && top !== 'index.html') {
        return reply.sendFile(top)
      }
      return reply
        .header('cache-control', 'no-cache')
        .sendFile('index.html', { cacheControl: false })
    })
  }
}

/** The console of this checkout. */
export const consoleRoutes: RoutePlugin = consoleRoutesFrom(CONSOLE_DIST)
