import { Alert, Anchor, Button, Checkbox, Code, Group, Stack, Table, Text, Title } from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { api, unwrap } from '../api/client.ts'
import { useConflicts } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { dateTime } from '../format.ts'
import { paths } from '../router.ts'

const show = (value: unknown) => (value === undefined ? '–' : JSON.stringify(value))

/** Parked conflicts: both values and the base; decide one field, or many at once. */
export function ConflictsPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const conflicts = useConflicts()
  const queryClient = useQueryClient()
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const decide = useMutation({
    mutationFn: async (body: { ids: number[]; winner: string }) =>
      unwrap(await api.POST('/api/conflicts/decide', { body })),
    onSuccess: () => {
      setSelected(new Set())
      return queryClient.invalidateQueries({ queryKey: ['conflicts'] })
    },
  })
  const items = conflicts.data?.items ?? []
  const operate = can(user, 'operate')
  const toggle = (id: number) =>
    setSelected((old) => {
      const next = new Set(old)
      if (!next.delete(id)) next.add(id)
      return next
    })
  const sides = items[0] ? Object.keys(items[0].values) : []
  return (
    <Stack>
      <Title order={1} size="h2">{t('conflicts.title')}</Title>
      {decide.error && <Alert color="red">{decide.error.message}</Alert>}
      {operate && selected.size > 0 && (
        <Group>
          <Text size="sm">{t('conflicts.selected', { count: selected.size })}</Text>
          {sides.map((side) => (
            <Button key={side} size="xs" onClick={() => decide.mutate({ ids: [...selected], winner: side })}>
              {t('conflicts.takeAll', { side })}
            </Button>
          ))}
        </Group>
      )}
      {items.length === 0 ? (
        <Text c="dimmed">{t('conflicts.empty')}</Text>
      ) : (
        <Table data-testid="conflicts">
          <Table.Thead>
            <Table.Tr>
              {operate && <Table.Th><span className="sr-only">{t('conflicts.select')}</span></Table.Th>}
              <Table.Th>{t('conflicts.task')}</Table.Th>
              <Table.Th>{t('conflicts.record')}</Table.Th>
              <Table.Th>{t('conflicts.field')}</Table.Th>
              <Table.Th>{t('conflicts.base')}</Table.Th>
              {sides.map((side) => <Table.Th key={side}>{side}</Table.Th>)}
              <Table.Th>{t('conflicts.since')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((c) => (
              <Table.Tr key={c.id} data-conflict={c.id}>
                {operate && (
                  <Table.Td>
                    <Checkbox aria-label={t('conflicts.selectOne', { field: c.field, key: c.key })} checked={selected.has(c.id)} onChange={() => toggle(c.id)} />
                  </Table.Td>
                )}
                <Table.Td><Anchor component={Link} href={paths.task(c.taskId)}>{c.taskId}</Anchor></Table.Td>
                <Table.Td><Code>{c.key}</Code></Table.Td>
                <Table.Td>{c.field}</Table.Td>
                <Table.Td><Code>{show(c.base)}</Code></Table.Td>
                {sides.map((side) => (
                  <Table.Td key={side}>
                    <Group gap="xs" wrap="nowrap">
                      <Code>{show(c.values[side])}</Code>
                      {operate && (
                        <Button size="compact-xs" variant="light" onClick={() => decide.mutate({ ids: [c.id], winner: side })}>
                          {t('conflicts.take', { side })}
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                ))}
                <Table.Td>{dateTime(c.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  )
}
