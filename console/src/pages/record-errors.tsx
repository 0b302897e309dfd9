import { Alert, Anchor, Button, Code, Group, Stack, Table, Text, Title } from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { api, unwrap } from '../api/client.ts'
import { useRecordErrors } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { dateTime } from '../format.ts'
import { paths } from '../router.ts'

/** Records that failed: retry them with the next run, or ignore them. */
export function RecordErrorsPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const errors = useRecordErrors()
  const queryClient = useQueryClient()
  const act = useMutation({
    mutationFn: async ({ id, action }: { id: number; action: 'retry' | 'ignore' }) =>
      unwrap(
        action === 'retry'
          ? await api.POST('/api/record-errors/{id}/retry', { params: { path: { id } } })
          : await api.POST('/api/record-errors/{id}/ignore', { params: { path: { id } } }),
      ),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['record-errors'] }),
  })
  const items = errors.data?.items ?? []
  return (
    <Stack>
      <Title order={1} size="h2">{t('errors.title')}</Title>
      {act.error && <Alert color="red">{act.error.message}</Alert>}
      {items.length === 0 ? (
        <Text c="dimmed">{t('errors.empty')}</Text>
      ) : (
        <Table data-testid="record-errors">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('conflicts.task')}</Table.Th>
              <Table.Th>{t('conflicts.record')}</Table.Th>
              <Table.Th>{t('errors.code')}</Table.Th>
              <Table.Th>{t('errors.message')}</Table.Th>
              <Table.Th>{t('conflicts.since')}</Table.Th>
              <Table.Th>{t('errors.actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td><Anchor component={Link} href={paths.task(e.taskId)}>{e.taskId}</Anchor></Table.Td>
                <Table.Td><Code>{e.key}</Code></Table.Td>
                <Table.Td><Code>{e.code}</Code></Table.Td>
                <Table.Td>{e.message}</Table.Td>
                <Table.Td>{dateTime(e.createdAt)}</Table.Td>
                <Table.Td>
                  {can(user, 'operate') && (
                    <Group gap="xs">
                      <Button size="compact-xs" onClick={() => act.mutate({ id: e.id, action: 'retry' })}>{t('errors.retry')}</Button>
                      <Button size="compact-xs" variant="default" onClick={() => act.mutate({ id: e.id, action: 'ignore' })}>{t('errors.ignore')}</Button>
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  )
}
