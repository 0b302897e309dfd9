import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * Runs a child process to its end: its wall time, its peak RSS (sampled from /proc every
 * 20 ms: the high-water mark) and its stdout. Exit codes 0 and 3 (a partial run) are fine;
 * any other throws with the end of stderr.
 */
export async function measureProcess(
  command: string,
  argv: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ seconds: number; rssMb: number; stdout: string }> {
  const started = performance.now()
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += d
  })
  child.stderr.on('data', (d) => {
    stderr += d
  })
  let hwm = 0
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
      if (m) hwm = Math.max(hwm, Number(m[1]))
    } catch {
      // Gone already.
    }
  }, 20)
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  clearInterval(sample)
  const seconds = (performance.now() - started) / 1000
  if (code !== 0 && code !== 3) {
    throw new Error(`${command} ${argv.join(' ')} exited ${code}:\n${stderr.slice(-3000)}`)
  }
  return { seconds, rssMb: hwm / 1024, stdout }
}
