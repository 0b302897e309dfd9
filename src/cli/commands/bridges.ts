import { type CommandGroup, EXIT, example, registry, write } from '../cli-kit.ts'

/** `opensync bridges`. */
export const bridgesCommands: CommandGroup = (program, cli) => {
  example(
    program
      .command('bridges')
      .description('Lists the available bridges and their connection fields.')
      .option('--json', 'print JSON')
      .action(
        cli.action(async (opts: { json?: boolean }) => {
          const list = (await registry()).list().map((b) => ({
            name: b.name,
            title: b.title,
            version: b.version,
            filterKinds: b.filterKinds,
            connectionFields: b.connectionFields,
          }))
          if (opts.json) {
            write(JSON.stringify(list, null, 2))
            return EXIT.ok
          }
          const out: string[] = []
          for (const b of list) {
            out.push(
              `${b.name.padEnd(10)} ${b.title} ${b.version} (filters: ${b.filterKinds.join(', ')})`,
            )
            for (const f of b.connectionFields) {
              const extra = [
                f.required ? 'required' : '',
                f.secret ? 'secret' : '',
                f.default !== undefined ? `default ${f.default}` : '',
              ]
                .filter(Boolean)
                .join(', ')
              out.push(`    ${f.name.padEnd(16)} ${f.label}${extra ? ` (${extra})` : ''}`)
            }
          }
          write(out.join('\n'))
          return EXIT.ok
        }),
      ),
    'opensync bridges --json',
  )
}
