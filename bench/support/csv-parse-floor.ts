/**
 * What parsing a CSV file costs `csv-parse` alone, with the CSV bridge's options
 * (src/bridges/csv/csv-reader.ts) but no cast, no decoding and nothing done with the rows:
 * the floor the parser puts under any read of the file by the bridge (docs/benchmarks.md).
 *
 *   node bench/support/csv-parse-floor.ts <file.csv>
 *
 * Prints one JSON line: { "seconds": …, "rows": rows after the header }.
 */
import { createReadStream } from 'node:fs'
import { parse } from 'csv-parse'

const file = process.argv[2]
if (!file) throw new Error('usage: csv-parse-floor.ts <file.csv>')
const started = performance.now()
let rows = -1
const parser = createReadStream(file, { highWaterMark: 64 * 1024 }).pipe(
  parse({
    delimiter: ',',
    quote: '"',
    escape: '"',
    encoding: 'utf8',
    bom: true,
    skip_empty_lines: true,
  }),
)
for await (const _ of parser) rows++
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, rows }))
