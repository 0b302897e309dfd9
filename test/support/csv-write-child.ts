/**
 * Rewrites a CSV file through the CSV bridge, for the crash tests of test/bridges/csv-bridge.test.ts:
 * sets `version` of every row of `items` to the given value, in one write.
 *
 *   node test/support/csv-write-child.ts <folder> <rows> <version> [pause]
 *
 * With `pause`, it prints `renaming` once the new file is written and synced, and waits there
 * to be killed: a crash between the temporary file and the rename.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { CsvConnection } from '../../src/bridges/csv/csv-connection.ts'
import { CsvSpecs } from '../../src/bridges/csv/csv-settings.ts'
import { csvBridge } from '../../src/bridges/csv/index.ts'
import { silentLogger, type WriteOp } from '../../src/sdk/index.ts'

const [folder, rows, version, pause] = process.argv.slice(2)
const format = {
  delimiter: ',',
  quote: '"',
  encoding: 'utf8',
  nullValue: '',
  bom: false,
  lineEnding: '\n',
} as const
const conn = pause
  ? new CsvConnection({
      folder: folder!,
      specs: new CsvSpecs({}, format, ['id']),
      create: false,
      log: silentLogger,
      replaceHooks: {
        beforeRename: async () => {
          process.stdout.write('renaming\n')
          await sleep(60_000)
        },
      },
    })
  : await csvBridge.connect({ folder: folder!, key: 'id' }, { log: silentLogger })
const ops: WriteOp[] = Array.from({ length: Number(rows) }, (_, i) => ({
  op: 'update',
  key: String(i + 1),
  values: { version: version! },
}))
process.stdout.write('writing\n')
await conn.write('items', ops)
process.stdout.write('done\n')
await conn.close()
