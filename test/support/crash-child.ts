/**
 * Runs a task and kills its own process with SIGKILL at the n-th time the engine reaches a
 * moment (`before-write`, `after-write`, `after-commit`): a crash at a chosen point.
 *
 *   node test/support/crash-child.ts <store file> <task yaml file> <point> <n>
 */
import { readFileSync } from 'node:fs'
import { createRegistry } from '../../src/bridges/index.ts'
import { runTask } from '../../src/engine/run-task.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { openStore } from '../../src/store/index.ts'

const [storeFile, taskFile, point, n] = process.argv.slice(2)
const task = parseTaskFile(readFileSync(taskFile!, 'utf8'), { format: 'yaml', env: {} })
const store = await openStore({ url: storeFile! })
let seen = 0
const result = await runTask(task, {
  store,
  registry: await createRegistry(),
  batchSize: 20,
  probe: (p) => {
    if (p === point && ++seen === Number(n)) process.kill(process.pid, 'SIGKILL')
  },
})
await store.close()
// Reaching here means the crash point was never hit.
process.stdout.write(JSON.stringify({ finished: true, status: result.status }))
