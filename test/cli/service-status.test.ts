import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { BIN, cli, tempDir } from './cli-harness.ts'

// Issue 10, item 14: `tasks list` says when no service runs instead of promising a next run.
describe('tasks list and the service registry', () => {
  it('promises no run while no service runs; names the running service; forgets it when it stops', async () => {
    const cwd = tempDir()
    const child = spawn(process.execPath, [BIN, 'start', '--demo'], {
      cwd,
      env: { ...process.env, OPENSYNC_DATABASE_URL: '' },
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      for (let i = 0; i < 400 && !/"msg":"run ended"/.test(out); i++)
        await new Promise((r) => setTimeout(r, 50))
      const running = await cli(cwd, ['tasks', 'list'])
      expect(running.code, running.stderr).toBe(0)
      expect(running.stdout).toMatch(/^demo-\S+\s.*\sin \d+ min/m)
      expect(running.stdout).toMatch(
        new RegExp(
          `^Running: service on \\S+ \\(process ${child.pid}, \\d+\\.\\d+\\.\\d+\\)\\.$`,
          'm',
        ),
      )
      const show = await cli(cwd, ['tasks', 'list', '--json'])
      const id = (JSON.parse(show.stdout) as { id: string }[])[0]!.id
      expect((await cli(cwd, ['tasks', 'show', id])).stdout).toMatch(/^ {2}next run: {2}\d{4}-/m)
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.once('exit', resolve))
    }
    const stopped = await cli(cwd, ['tasks', 'list'])
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stdout).toMatch(/^demo-\S+\s.*\snone: no service running/m)
    expect(stopped.stdout).not.toMatch(/\sin \d+ min/)
    expect(stopped.stdout).toContain('No OpenSync service is running, so no plan runs')
    const id = (
      JSON.parse((await cli(cwd, ['tasks', 'list', '--json'])).stdout) as { id: string }[]
    )[0]!.id
    expect((await cli(cwd, ['tasks', 'show', id])).stdout).toContain(
      'next run:  none: no service is running',
    )
  })
})
