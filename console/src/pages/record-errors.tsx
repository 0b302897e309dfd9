import { Alert, Anchor, Button, Code, Group, Stack, Table, Text, Title } from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { api, unwrap } from '../api/client.ts'
import { useAllRecordErrors, useRecordErrors } from '../api/queries.ts'
import type { components } from '../api/schema.d.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { TaskPicker } from '../components/task-picker.tsx'
import { dateTime } from '../format.ts'
import { paths, useNavigate, useQueryParam } from '../router.ts'

type Ref = { pairId: string; from: string; key: string }
/** A failed record with its task: the across-tasks list names it, the per-task one knows it. */
type Row = components['schemas']['RecordError'] & { taskId: string; subject?: string }

/**
 * Records that failed: of the task picked (all of them, retried or ignored at once or one by
 * one), or of every task, newest first a page at a time, each with its task.
 */
export function RecordErrorsPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const taskId = useQueryParam('task')
  const navigate = useNavigate()
  const errors = useRecordErrors(taskId)
  const all = useAllRecordErrors(taskId === null)
  const queryClient = useQueryClient()
  const act = useMutation({
    mutationFn: async ({
      task,
      records,
      action,
    }: {
      task: string
      records: Ref[]
      action: 'retry' | 'ignore'
    }) => {
      const options = { params: { path: { taskId: task } }, body: { records } }
      if (action === 'retry')
        unwrap(await api.POST('/api/tasks/{taskId}/record-errors/retry', options))
      else unwrap(await api.POST('/api/tasks/{taskId}/record-errors/ignore', options))
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['record-errors'] }),
  })
  const items: Row[] = taskId
    ? (errors.data?.items ?? []).map((e) => ({ ...e, taskId }))
    : (all.data?.pages.flatMap((p) => p.items) ?? [])
  const loaded = taskId ? errors.data !== undefined : all.data !== undefined
  const refs = items.map((e) => ({ pairId: e.pairId, from: e.from, key: e.key }))
  const error = act.error ?? (taskId ? errors.error : all.error)
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('errors.title')}
      </Title>
      <TaskPicker
        all={t('errors.allTasks')}
        value={taskId}
        onChange={(id) =>
          navigate(id ? `${paths.errors}?task=${encodeURIComponent(id)}` : paths.errors, true)
        }
      />
      {error && <Alert color="red">{error.message}</Alert>}
      {loaded && items.length === 0 && <Text c="dimmed">{t('errors.empty')}</Text>}
      {taskId && items.length > 0 && can(user, 'operate') && (
        <Group>
          <Button
            size="xs"
            onClick={() => act.mutate({ task: taskId, records: refs, action: 'retry' })}
          >
            {t('errors.retryAll')}
          </Button>
          <Button
            size="xs"
            variant="default"
            onClick={() => act.mutate({ task: taskId, records: refs, action: 'ignore' })}
          >
            {t('errors.ignoreAll')}
          </Button>
        </Group>
      )}
      {items.length > 0 && (
        <Table data-testid="record-errors">
          <Table.Thead>
            <Table.Tr>
              {!taskId && <Table.Th>{t('errors.task')}</Table.Th>}
              <Table.Th>{t('execution.pair')}</Table.Th>
              <Table.Th>{t('execution.direction')}</Table.Th>
              <Table.Th>{t('conflicts.record')}</Table.Th>
              <Table.Th>{t('errors.code')}</Table.Th>
              <Table.Th>{t('errors.message')}</Table.Th>
              <Table.Th>{t('errors.attempts')}</Table.Th>
              <Table.Th>{t('conflicts.since')}</Table.Th>
              <Table.Th>{t('errors.actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((e) => {
              const ref = { pairId: e.pairId, from: e.from, key: e.key }
              return (
                <Table.Tr
                  key={JSON.stringify([e.taskId, e.pairId, e.from, e.key])}
                  data-task={e.taskId}
                >
                  {!taskId && (
                    <Table.Td>
                      <Anchor component={Link} href={paths.task(e.taskId)} size="sm">
                        {e.subject ?? e.taskId}
                      </Anchor>
                    </Table.Td>
                  )}
                  <Table.Td>{e.pairId}</Table.Td>
                  <Table.Td>
                    {e.from} → {e.to}
                  </Table.Td>
                  <Table.Td>
                    <Code>{e.key}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Code>{e.code}</Code>
                  </Table.Td>
                  <Table.Td>{e.message}</Table.Td>
                  <Table.Td>
                    {e.attempts}
                    {e.quarantined ? ` · ${t('errors.quarantined')}` : ''}
                  </Table.Td>
                  <Table.Td>{dateTime(e.firstAt)}</Table.Td>
                  <Table.Td>
                    {can(user, 'operate') && (
                      <Group gap="xs" wrap="nowrap">
                        <Button
                          size="compact-xs"
                          aria-label={t('errors.retryOne', { key: e.key })}
                          onClick={() =>
                            act.mutate({ task: e.taskId, records: [ref], action: 'retry' })
                          }
                        >
                          {t('errors.retry')}
                        </Button>
                        <Button
                          size="compact-xs"
                          variant="default"
                          aria-label={t('errors.ignoreOne', { key: e.key })}
                          onClick={() =>
                            act.mutate({ task: e.taskId, records: [ref], action: 'ignore' })
                          }
                        >
                          {t('errors.ignore')}
                        </Button>
                      </Group>
                    )}
                  </Table.Td>
                </Table.Tr>
              )
            })}
          </Table.Tbody>
        </Table>
      )}
      {!taskId && all.hasNextPage && (
        <Group justify="center">
          <Button
            variant="default"
            size="xs"
            loading={all.isFetchingNextPage}
            onClick={() => void all.fetchNextPage()}
          >
            {t('errors.older', { count: items.length })}
          </Button>
        </Group>
      )}
      {taskId && (
        <Anchor component={Link} href={paths.task(taskId)} size="sm">
          {t('inbox.toTask')}
        </Anchor>
      )}
    </Stack>
  )
}
