import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { measureProcess } from './measure-process.ts'

/**
 * Runs a dry run of a small copy of a bench's task, so that every opensync process measured
 * after it finds its code in Node's compile cache: the first process after an install or an
 * edit strips the TypeScript itself, which costs ~25 MB of RSS for its lifetime
 * (docs/memory.md). `small` turns the task's text into one that reads about ten records.
 * Prints the warm-up's own time and peak RSS.
 */
export async function warmCompileCache(options: {
  readonly root: string
  readonly work: string
  readonly task: string
  readonly small: (taskText: string) => string
}): Promise<void> {
  const { root, work, task, small } = options
  const warmTask = join(work, 'warm.task.yaml')
  writeFileSync(warmTask, small(readFileSync(task, 'utf8')))
  const warm = await measureProcess(
    process.execPath,
    [
      '--max-semi-space-size=16',
      join(root, 'bin/opensync.js'),
      'run',
      warmTask,
      '--dry-run',
      '--json',
      '--store',
      join(work, 'warm.db'),
    ],
    { cwd: work },
  )
  console.log(
    `warm-up    ${warm.seconds.toFixed(2)} s, ${warm.rssMb.toFixed(0)} MB peak RSS (a dry run of ~10 records: fills the compile cache)`,
  )
}
