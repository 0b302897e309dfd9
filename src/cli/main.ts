import { Command, type CommanderError } from 'commander'
// Only commander, the command groups' declarations and the error helpers load up front:
// engine, store and bridges are imported by the actions that need them, so --help and a
// mistyped command answer at once.
import { coerceError, isOpenSyncError } from '../sdk/errors.ts'
import { OPENSYNC_VERSION } from '../service/version.ts'
import {
  andList,
  argumentWords,
  type Cli,
  type CommandGroup,
  EXIT,
  UsageError,
  usage,
} from './cli-kit.ts'
import { bridgesCommands } from './commands/bridges.ts'
import { checkCommands } from './commands/check.ts'
import { conflictsCommands } from './commands/conflicts.ts'
import { demoCommands } from './commands/demo.ts'
import { executionsCommands } from './commands/executions.ts'
import { migrateCommands } from './commands/migrate.ts'
import { profilesCommands } from './commands/profiles.ts'
import { runCommands } from './commands/run.ts'
import { serviceCommands } from './commands/service.ts'
import { tasksCommands } from './commands/tasks.ts'
import { usersCommands } from './commands/users.ts'

/** Every command group, in the order `opensync --help` lists them. Add a group with one line. */
const GROUPS: readonly CommandGroup[] = [
  runCommands,
  executionsCommands,
  demoCommands,
  checkCommands,
  bridgesCommands,
  serviceCommands,
  tasksCommands,
  conflictsCommands,
  profilesCommands,
  usersCommands,
  migrateCommands,
]

const AFTER_HELP = `
Every command has its own help with examples: opensync <command> --help (or opensync help <command>).

The metadata store is --store, else $OPENSYNC_DATABASE_URL, else .data/opensync.db
(SQLite) in the current folder. Extra bridge packages: OPENSYNC_BRIDGES=pkg1,pkg2.

Exit codes:
  0    success
  1    the run failed
  2    bad input (arguments, task file, a draft task)
  3    the run finished, but some records failed (status partial; retried next run)
  130  interrupted (Ctrl-C)`

/** The `opensync` program with every command group registered. */
export function createProgram(cli: Cli): Command {
  const program = new Command('opensync')
    .description('opensync — keeps the records of two systems in step')
    .version(`opensync ${OPENSYNC_VERSION}`, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show the help of a command')
    .addHelpText('after', AFTER_HELP)
  for (const group of GROUPS) group(program, cli)
  for (const command of walk(program)) {
    command.exitOverride((error) => {
      throw translate(error, command)
    })
    // Commander's own error line is replaced by ours (see translate and reportError).
    command.configureOutput({ outputError: () => {} })
  }
  return program
}

/** Runs the CLI with the given arguments; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code: number = EXIT.ok
  const program = createProgram({
    action:
      (fn) =>
      async (...args) => {
        code = await fn(...args)
      },
  })
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (error instanceof HelpShown) return error.exitCode
    throw error
  }
  return code
}

/** Help or the version was printed: nothing failed. */
class HelpShown extends Error {
  readonly exitCode: number
  constructor(exitCode: number) {
    super('help shown')
    this.exitCode = exitCode
  }
}

/** Commander's parse errors in our words, naming the command and where its help is. */
function translate(error: CommanderError, command: Command): Error {
  const path = pathOf(command)
  const at = path ? `${path}: ` : ''
  const help = `see opensync ${path ? `${path} ` : ''}--help`
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? ''
  const didYouMean = /Did you mean (.+?)\?/.exec(error.message)?.[1]
  const suggestion = didYouMean ? ` (did you mean ${didYouMean}?)` : ''
  switch (error.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return new HelpShown(EXIT.ok)
    case 'commander.help':
      // Help without being asked for it (a command group without its subcommand): exit 2.
      return new HelpShown(error.exitCode === 0 ? EXIT.ok : EXIT.usage)
    case 'commander.unknownCommand': {
      const names = visibleCommands(command)
      return command.parent
        ? usage(
            `${path}: unknown subcommand "${quoted}"${suggestion}; the subcommands are ${andList(names)}; ${help}`,
          )
        : usage(
            `unknown command "${quoted}"${suggestion}; the commands are ${andList(names)}; ${help}`,
          )
    }
    case 'commander.unknownOption': {
      const elsewhere = [...walk(rootOf(command))].some((c) =>
        c.options.some((o) => o.long === quoted || o.short === quoted),
      )
      return elsewhere
        ? usage(`${at}no option ${quoted}${suggestion}; ${help}`)
        : usage(`unknown option ${quoted}${suggestion}; see opensync --help`)
    }
    case 'commander.missingArgument': {
      const arg = command.registeredArguments.find((a) => a.name() === quoted)
      return usage(`${at}${arg ? argumentWords(arg) : quoted} is missing; ${help}`)
    }
    case 'commander.excessArguments': {
      const extra = command.args[command.registeredArguments.length]
      return usage(`${at}unexpected argument "${extra}"; ${help}`)
    }
    case 'commander.optionMissingArgument': {
      const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted
      return usage(`${at}option ${flag} needs a value; ${help}`)
    }
    default:
      return usage(`${at}${error.message.replace(/^error: /, '')}; ${help}`)
  }
}

/** `tasks import` for that subcommand; empty for the program. */
function pathOf(command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

function rootOf(command: Command): Command {
  let c = command
  while (c.parent) c = c.parent
  return c
}

function visibleCommands(command: Command): string[] {
  return command.commands.map((c) => c.name()).filter((name) => name !== 'help')
}

function* walk(command: Command): Generator<Command> {
  yield command
  for (const sub of command.commands) yield* walk(sub)
}

/** Prints an error for a person and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`opensync: ${error.message}\n`)
    return EXIT.usage
  }
  const e = coerceError(error)
  process.stderr.write(`opensync: ${e.message}${isOpenSyncError(error) ? ` [${e.code}]` : ''}\n`)
  if (e.kind === 'bug' && e.cause instanceof Error && e.cause.stack) {
    process.stderr.write(`${e.cause.stack}\n`)
  }
  return e.kind === 'user' ? EXIT.usage : EXIT.failed
}
