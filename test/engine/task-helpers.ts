import { expect } from 'vitest'
import type { FieldMapping, ResolvedTask } from '../../src/engine/task/index.ts'
import { parseTaskFile } from '../../src/engine/task/index.ts'
import { isOpenSyncError, type OpenSyncError } from '../../src/sdk/index.ts'

/** A small valid task document (crm ↔ erp) whose first pair can be overridden. */
export function taskDocument(
  pair: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
) {
  return {
    subject: 'Contacts',
    systems: {
      crm: { bridge: 'postgres', connection: { url: 'postgres://localhost/crm' } },
      erp: { bridge: 'mysql', connection: { host: 'localhost', port: 3306 } },
    },
    pairs: [
      {
        crm: { type: 'contacts' },
        erp: { type: 'customers' },
        fields: { name: 'company_name' },
        ...pair,
      },
    ],
    ...top,
  }
}

/** Compiles a document through the whole path a file takes (JSON text, env, schema, compile). */
export function compile(document: unknown, env: Record<string, string> = {}): ResolvedTask {
  return parseTaskFile(JSON.stringify(document), { format: 'json', env })
}

/** The mapping `id` of the first pair of a task with these `fields` (and pair options). */
export function mapping(
  fields: Record<string, unknown>,
  pair: Record<string, unknown> = {},
): FieldMapping {
  const task = compile(taskDocument({ fields, ...pair }))
  const found = task.pairs[0]!.mappings.find((m) => m.id === Object.keys(fields)[0])
  if (!found) throw new Error('no such mapping')
  return found
}

/** The OpenSyncError `fn` throws (sync or async); fails the test when it throws none. */
export async function errorOf(fn: () => unknown): Promise<OpenSyncError> {
  try {
    await fn()
  } catch (error) {
    if (isOpenSyncError(error)) return error
    throw error
  }
  expect.fail('expected an OpenSyncError')
}

/** The problem lines of an OSY_INVALID_TASK error, as `path: message`. */
export async function problems(fn: () => unknown): Promise<string[]> {
  const error = await errorOf(fn)
  expect(error.code).toBe('OSY_INVALID_TASK')
  const issues = error.details.issues as { path: string; message: string }[]
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
}
