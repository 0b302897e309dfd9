import { OpenSyncError } from '../../sdk/index.ts'
import { formatPath, IssueList, type IssuePath } from './task-issues.ts'

/** Environment variables by name, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Replaces `${VAR}` in every string value of a parsed task document with the variable's
 * value, so secrets stay out of task files; `$${` writes a literal `${`. Runs before
 * validation, on the parsed document (never on the text), so a value can never change the
 * document's structure. Values are never put into messages: a missing variable is reported
 * by name and by the path that uses it.
 */
export function substituteEnv(document: unknown, env: Env, source?: string): unknown {
  const missing = new Map<string, string[]>()
  const malformed = new IssueList()

  const substitute = (text: string, path: IssuePath): string =>
    text.replace(REFERENCE, (whole, name: string | undefined) => {
      if (whole === '$${') return '${'
      if (name === undefined || !NAME.test(name)) {
        malformed.add(
          path,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the ${NAME} syntax
          'has "${" without a variable name and "}" after it; write ${NAME}, or $${ for a literal "${"',
        )
        return whole
      }
      const value = env[name]
      if (value === undefined) {
        const paths = missing.get(name) ?? []
        paths.push(formatPath(path))
        missing.set(name, paths)
        return whole
      }
      return value
    })

  const walk = (value: unknown, path: IssuePath): unknown => {
    if (typeof value === 'string') return value.includes('${') ? substitute(value, path) : value
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]))
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]))
    }
    return value
  }

  const out = walk(document, [])
  malformed.throwIfAny(source)
  if (missing.size > 0) throw missingEnv(missing, source)
  return out
}

function missingEnv(
  missing: ReadonlyMap<string, readonly string[]>,
  source?: string,
): OpenSyncError {
  const where = source ? ` in ${source}` : ''
  const lines = [...missing].map(
    ([name, paths]) => `${name} is not set (used at ${paths.join(', ')}${where})`,
  )
  const message =
    lines.length === 1
      ? `environment variable ${lines[0]}`
      : `environment variables are missing:\n${lines.map((l) => `  ${l}`).join('\n')}`
  const paths = [...missing.values()].flat()
  return new OpenSyncError('OSY_MISSING_ENV', message, {
    details: {
      variables: [...missing.keys()],
      paths,
      field: paths[0],
      ...(source ? { source } : {}),
    },
  })
}
