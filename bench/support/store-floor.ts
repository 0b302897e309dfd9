/**
 * What a first sync's links cost the metadata store alone: N links written through the
 * store's own API as the engine's batch commits write them (batches of 1,000, each in one
 * transaction with its checkpoint), into a store that must be new, and nothing else. The
 * engine cannot write them faster than this, so a bench prints it beside its baseline: it is
 * the floor the store puts under an initial sync (docs/benchmarks.md).
 *
 *   node --max-semi-space-size=16 bench/support/store-floor.ts <store url or file> [N=1000000] [--shape=contacts]
 *
 * Prints one JSON line: { "seconds": …, "links": N }.
 */
import { type Link, openStore } from '../../src/store/index.ts'

const [url, n] = process.argv.slice(2).filter((a) => !a.startsWith('--'))
if (!url) throw new Error('usage: store-floor.ts <store url or file> [N]')
const N = Number(n ?? 1_000_000)
if (!Number.isSafeInteger(N) || N < 1) throw new Error(`N must be a positive integer, not ${n}`)
const BATCH = 1_000

/**
 * A base text as the engine stores one (fingerprints by field, one text for both sides): of
 * the 9-column customers of vs-pgloader.ts and csv-load.ts, or with `--shape=contacts` of the
 * 3-field contacts of rest-rates.ts.
 */
const base = process.argv.includes('--shape=contacts')
  ? (i: number) => `{"email":"sw${i}@example.com","name":"sWriter ${i}","city":"sGraz"}`
  : (i: number) =>
      `{"id":"n${i}","email":"sc${i}@example.com","first_name":"sFirst${i % 1000}","last_name":"sLast${i}","city":"sKarlsruhe","zip":"s${String(i % 99999).padStart(5, '0')}","balance":"n${(i % 100000) / 100}","active":"${i % 2 ? 'T' : 'F'}","updated_at":"s2026-01-01T00:00:00.000000Z"}`

const store = await openStore({ url })
try {
  const started = performance.now()
  for (let at = 1; at <= N; at += BATCH) {
    const syncedAt = new Date().toISOString()
    const links: Link[] = []
    for (let i = at; i < Math.min(at + BATCH, N + 1); i++) {
      const key = String(i)
      links.push({
        taskId: 'floor',
        pairId: 'customers',
        keys: [key, key] as const,
        base: [base(i), '='] as const,
        syncedAt,
        deleted: null,
      })
    }
    await store.transaction(async (tx) => {
      await tx.links.insert(links)
      await tx.checkpoints.set('floor', 'customers', 0, {
        cursorField: 'updated_at',
        position: [String(at + BATCH - 1)],
      })
    })
  }
  console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, links: N }))
} finally {
  await store.close()
}
