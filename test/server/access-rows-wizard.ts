import type { AccessRows } from './access-rows.ts'

/** A system whose database file does not exist: every connection route answers 400. */
const NOWHERE = { bridge: 'sqlite', connection: { file: '/nonexistent/opensync-matrix.db' } }

/**
 * The wizard's routes: bridges and profiles (read), and what connects to a system from
 * values entered or dry-runs a task (edit; a stored task's preview: operate); the service status.
 */
export const ROWS: AccessRows = {
  'GET /api/bridges': { access: 'read' },
  'GET /api/bridges/{name}': { access: 'read', params: { name: 'bridge' } },
  'GET /api/profiles': { access: 'read' },
  'GET /api/profiles/{id}': { access: 'read', params: { id: 'profile' } },
  'POST /api/profiles/{id}/databases': {
    access: 'edit',
    params: { id: 'profile' },
    body: { connection: {} },
  },
  'POST /api/profiles/task': { access: 'edit', body: { home: 'no-such', other: 'no-such' } },
  'POST /api/profiles/pairs': { access: 'read', body: { home: 'no-such', other: 'no-such' } },
  'POST /api/connections/check': { access: 'edit', body: { system: NOWHERE } },
  'POST /api/connections/discover': { access: 'edit', body: { system: NOWHERE } },
  'POST /api/connections/databases': { access: 'edit', body: { system: NOWHERE } },
  'POST /api/connections/filter': {
    access: 'edit',
    body: { system: NOWHERE, recordType: 'x', filter: { sql: 'a = 1' } },
  },
  'POST /api/connections/sample': { access: 'edit', body: { system: NOWHERE, recordType: 'x' } },
  'POST /api/tasks/{taskId}/preview': { access: 'operate', params: { taskId: 'task' } },
  'POST /api/preview': { access: 'edit', body: { document: {} } },
  'GET /api/status': { access: 'read' },
}
