import type { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { createProgram } from '../../src/cli/main.ts'

// Issue 10, item 15: every command and subcommand has its own generated --help with an example.
function* walk(command: Command, path: string[] = []): Generator<[string, Command]> {
  for (const sub of command.commands) {
    if (sub.name() === 'help') continue
    const here = [...path, sub.name()]
    yield [here.join(' '), sub]
    yield* walk(sub, here)
  }
}

describe('opensync help', () => {
  it('every command and subcommand has its own help with an example', () => {
    const program = createProgram({
      action:
        (fn) =>
        async (...args) =>
          void (await fn(...args)),
    })
    const names: string[] = []
    for (const [name, command] of walk(program)) {
      names.push(name)
      let out = ''
      command.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) })
      command.outputHelp()
      expect(out, name).toContain(`Usage: opensync ${name}`)
      expect(out, name).toMatch(/^Examples?:\n {2}(\S+=\S+ )*opensync /m)
      expect(command.description(), name).not.toBe('')
    }
    for (const name of ['check', 'conflicts', 'conflicts list', 'conflicts resolve', 'run'])
      expect(names).toContain(name)
  })
})
