import type { AccessRows } from './access-rows.ts'

/**
 * Live events and the inboxes of a task. Bodies are valid, so that a caller limited to
 * another profile reaches the task lookup (and its 404) rather than stopping at validation.
 */
export const ROWS: AccessRows = {
  'GET /api/events': { access: 'read', stream: true },
  'GET /api/conflicts': { access: 'read' },
  'GET /api/tasks/{taskId}/conflicts': { access: 'read', params: { taskId: 'task' } },
  'POST /api/tasks/{taskId}/conflicts/decisions': {
    access: 'operate',
    params: { taskId: 'task' },
    body: { decisions: [{ id: 999999, winner: 'crm' }] },
  },
  'GET /api/record-errors': { access: 'read' },
  'GET /api/tasks/{taskId}/record-errors': { access: 'read', params: { taskId: 'task' } },
  'POST /api/tasks/{taskId}/record-errors/retry': {
    access: 'operate',
    params: { taskId: 'task' },
    body: { records: [{ pairId: 'p1', from: 'crm', key: 'no-such-record' }] },
  },
  'POST /api/tasks/{taskId}/record-errors/ignore': {
    access: 'operate',
    params: { taskId: 'task' },
    body: { records: [{ pairId: 'p1', from: 'crm', key: 'no-such-record' }] },
  },
  'GET /api/tasks/{taskId}/checkpoints': { access: 'read', params: { taskId: 'task' } },
  'DELETE /api/tasks/{taskId}/checkpoints/{pairId}': {
    access: 'edit',
    params: { taskId: 'task', pairId: 'pair' },
  },
}
