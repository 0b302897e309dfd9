/**
 * The fixture server in a process of its own, for the bench (so the API's work is not
 * counted against the client's event loop):
 *
 *   node test/support/rest-fixture-main.ts [seed collection] [records]
 *
 * Prints `{"url": …}` on a line when it listens; stops when its stdin closes.
 */
import { startFixtureServer } from './rest-fixture-server.ts'

const [collection, count] = process.argv.slice(2)
const server = await startFixtureServer()
if (collection && count) {
  const n = Number(count)
  for (let i = 0; i < n; i += 10_000) {
    server.insert(
      collection,
      Array.from({ length: Math.min(10_000, n - i) }, (_, j) => ({
        email: `p${i + j}@example.com`,
        name: `Person ${i + j} Müller`,
        city: (i + j) % 2 === 0 ? 'Berlin' : 'Wien',
      })),
    )
  }
}
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`)
process.stdin.resume()
process.stdin.on('end', () => void server.close().then(() => process.exit(0)))
