import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Code,
  Group,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { api, unwrap } from '../api/client.ts'
import { useLiveUpdates } from '../api/events.ts'
import { useAllConflicts, useConflicts } from '../api/queries.ts'
import type { components } from '../api/schema.d.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { TaskPicker } from '../components/task-picker.tsx'
import { dateTime } from '../format.ts'
import { paths, useNavigate, useQueryParam } from '../router.ts'

type Conflict = components['schemas']['Conflict']

/**
 * A side's value as an administrator reads it: a mapping of one field shows its value alone
 * (`Console CRM GmbH`, not `{"company":"Console CRM GmbH"}`); several fields stay JSON.
 */
const show = (value: unknown): string => {
  if (value === undefined) return '–'
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.values(value)
    if (entries.length === 1)
      return typeof entries[0] === 'string' ? entries[0] : JSON.stringify(entries[0])
  }
  return JSON.stringify(value)
}

/**
 * The base (the values last synced, before both edits): once when both sides had the same,
 * per side otherwise (a transform between them); a dash when the store does not know it.
 */
function Base({ sides }: { sides: Record<string, { base?: unknown }> }) {
  const shown = Object.entries(sides).map(([side, s]) => [
    side,
    s.base == null ? '–' : show(s.base),
  ])
  if (shown.every(([, text]) => text === shown[0]?.[1]))
    return <Code data-testid="conflict-base">{shown[0]?.[1] ?? '–'}</Code>
  return (
    <Stack gap={2} data-testid="conflict-base">
      {shown.map(([side, text]) => (
        <Text key={side} size="xs">
          {side}: <Code>{text}</Code>
        </Text>
      ))}
    </Stack>
  )
}

/**
 * Parked conflicts: of the task picked, or of every task (grouped by task) when none is.
 * Each side's value and the base; decide one field, or many at once.
 */
export function ConflictsPage() {
  const { t } = useTranslation()
  const taskId = useQueryParam('task')
  const navigate = useNavigate()
  // New conflicts arrive as they are parked (conflict.parked on /api/events).
  useLiveUpdates()
  const conflicts = useConflicts(taskId)
  const all = useAllConflicts(taskId === null)
  const error = conflicts.error ?? all.error
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('conflicts.title')}
      </Title>
      <TaskPicker
        all={t('conflicts.allTasks')}
        value={taskId}
        onChange={(id) =>
          navigate(id ? `${paths.conflicts}?task=${encodeURIComponent(id)}` : paths.conflicts, true)
        }
      />
      {error && <Alert color="red">{error.message}</Alert>}
      {taskId && conflicts.data && <ConflictTable taskId={taskId} items={conflicts.data.items} />}
      {taskId === null && all.data && all.data.items.length === 0 && (
        <Text c="dimmed">{t('conflicts.empty')}</Text>
      )}
      {taskId === null &&
        all.data?.items.map((group) => (
          <Stack key={group.taskId} gap="xs" data-task={group.taskId}>
            <Title order={2} size="h4">
              <Anchor component={Link} href={paths.task(group.taskId)}>
                {group.subject}
              </Anchor>{' '}
              <Text span size="sm" c="dimmed">
                ({t('conflicts.open', { count: group.count })})
              </Text>
            </Title>
            <ConflictTable taskId={group.taskId} items={group.conflicts} />
          </Stack>
        ))}
      {taskId && (
        <Anchor component={Link} href={paths.task(taskId)} size="sm">
          {t('inbox.toTask')}
        </Anchor>
      )}
    </Stack>
  )
}

/** The conflicts of one task: a row per field in conflict, decided one by one or in bulk. */
function ConflictTable({ taskId, items }: { taskId: string; items: readonly Conflict[] }) {
  const { t } = useTranslation()
  const user = useSessionUser()
  const queryClient = useQueryClient()
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set())
  const decide = useMutation({
    mutationFn: async (decisions: { id: number; winner: string }[]) =>
      unwrap(
        await api.POST('/api/tasks/{taskId}/conflicts/decisions', {
          params: { path: { taskId } },
          body: { decisions },
        }),
      ),
    onSuccess: () => {
      setSelected(new Set())
      return queryClient.invalidateQueries({ queryKey: ['conflicts'] })
    },
  })
  const operate = can(user, 'operate')
  const toggle = (id: number) =>
    setSelected((old) => {
      const next = new Set(old)
      if (!next.delete(id)) next.add(id)
      return next
    })
  const sides = items[0] ? Object.keys(items[0].sides) : []
  if (items.length === 0) return <Text c="dimmed">{t('conflicts.empty')}</Text>
  return (
    <Stack gap="xs">
      {decide.error && <Alert color="red">{decide.error.message}</Alert>}
      {operate && selected.size > 0 && (
        <Group>
          <Text size="sm">{t('conflicts.selected', { count: selected.size })}</Text>
          {sides.map((side) => (
            <Button
              key={side}
              size="xs"
              onClick={() => decide.mutate([...selected].map((id) => ({ id, winner: side })))}
            >
              {t('conflicts.takeAll', { side })}
            </Button>
          ))}
        </Group>
      )}
      <Table data-testid="conflicts">
        <Table.Thead>
          <Table.Tr>
            {operate && <Table.Th>{t('conflicts.select')}</Table.Th>}
            <Table.Th>{t('execution.pair')}</Table.Th>
            <Table.Th>{t('conflicts.field')}</Table.Th>
            <Table.Th>{t('conflicts.base')}</Table.Th>
            {sides.map((side) => (
              <Table.Th key={side}>{side}</Table.Th>
            ))}
            <Table.Th>{t('conflicts.since')}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((c) => (
            <Table.Tr key={c.id} data-conflict={c.id}>
              {operate && (
                <Table.Td>
                  <Checkbox
                    aria-label={t('conflicts.selectOne', {
                      field: c.mapping,
                      key: Object.values(c.sides)[0]?.key ?? '',
                    })}
                    checked={selected.has(c.id)}
                    onChange={() => toggle(c.id)}
                  />
                </Table.Td>
              )}
              <Table.Td>{c.pairId}</Table.Td>
              <Table.Td>
                <Code>{c.mapping}</Code>
              </Table.Td>
              <Table.Td>
                <Base sides={c.sides} />
              </Table.Td>
              {sides.map((side) => (
                <Table.Td key={side}>
                  <Stack gap={2}>
                    <Text size="xs" c="dimmed">
                      {t('execution.key')}: {c.sides[side]?.key}
                    </Text>
                    <Group gap="xs">
                      <Code>{show(c.sides[side]?.values)}</Code>
                      {operate && !c.winner && (
                        <Button
                          size="compact-xs"
                          variant="default"
                          onClick={() => decide.mutate([{ id: c.id, winner: side }])}
                        >
                          {t('conflicts.take', { side })}
                        </Button>
                      )}
                      {c.winner === side && <Text size="xs">✓ {t('conflicts.decided')}</Text>}
                    </Group>
                  </Stack>
                </Table.Td>
              ))}
              <Table.Td>{dateTime(c.createdAt)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  )
}
