import { Alert, Button, Code, Group, Stack, Table, Text, Title } from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { useRecordErrors } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { TaskPicker } from '../components/task-picker.tsx'
import { dateTime } from '../format.ts'
import { paths, useNavigate, useQueryParam } from '../router.ts'

type Ref = { pairId: string; from: string; key: string }

/** Records of a task that failed: retry them now (a run is queued), or ignore them. */
export function RecordErrorsPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const taskId = useQueryParam('task')
  const navigate = useNavigate()
  const errors = useRecordErrors(taskId)
  const queryClient = useQueryClient()
  const act = useMutation({
    mutationFn: async ({ records, action }: { records: Ref[]; action: 'retry' | 'ignore' }) => {
      const options = { params: { path: { taskId: taskId! } }, body: { records } }
      if (action === 'retry')
        unwrap(await api.POST('/api/tasks/{taskId}/record-errors/retry', options))
      else unwrap(await api.POST('/api/tasks/{taskId}/record-errors/ignore', options))
    },
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['record-errors', taskId] }),
  })
  const items = errors.data?.items ?? []
  const refs = items.map((e) => ({ pairId: e.pairId, from: e.from, key: e.key }))
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('errors.title')}
      </Title>
      <TaskPicker
        value={taskId}
        onChange={(id) =>
          navigate(id ? `${paths.errors}?task=${encodeURIComponent(id)}` : paths.errors, true)
        }
      />
      {(act.error ?? errors.error) && (
        <Alert color="red">{(act.error ?? errors.error)?.message}</Alert>
      )}
      {taskId && errors.data && items.length === 0 && <Text c="dimmed">{t('errors.empty')}</Text>}
      {items.length > 0 && can(user, 'operate') && (
        <Group>
          <Button size="xs" onClick={() => act.mutate({ records: refs, action: 'retry' })}>
            {t('errors.retryAll')}
          </Button>
          <Button
            size="xs"
            variant="default"
            onClick={() => act.mutate({ records: refs, action: 'ignore' })}
          >
            {t('errors.ignoreAll')}
          </Button>
        </Group>
      )}
      {items.length > 0 && (
        <Table data-testid="record-errors">
          <Table.Thead>
            <Table.Tr>
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
                <Table.Tr key={`${e.pairId}-${e.from}-${e.key}`}>
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
                          onClick={() => act.mutate({ records: [ref], action: 'retry' })}
                        >
                          {t('errors.retry')}
                        </Button>
                        <Button
                          size="compact-xs"
                          variant="default"
                          onClick={() => act.mutate({ records: [ref], action: 'ignore' })}
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
    </Stack>
  )
}
