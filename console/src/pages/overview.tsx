import {
  Badge,
  Button,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core'
import { IconPlus, IconSearch, IconSparkles } from '@tabler/icons-react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { type TaskSummary, useTasks } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { StatusIcon } from '../components/status-icon.tsx'
import { dateTime, planText } from '../format.ts'
import { paths } from '../router.ts'

type SortKey = 'subject' | 'next' | 'last'

/** All tasks: search, sort, and a window of rows so a thousand tasks scroll smoothly. */
/** The task's two systems: each by its profile when it came from one, else key (bridge). */
function systemsText(task: TaskSummary): string {
  return task.systems
    .map((s) => s.profile ?? (s.bridge ? `${s.key} (${s.bridge})` : s.key))
    .join(' ↔ ')
}

export function OverviewPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const tasks = useTasks()
  const [search, setSearch] = useState('')
  const [sort, setSort] = useState<SortKey>('subject')
  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase()
    const found = (tasks.data ?? []).filter(
      (task) =>
        needle === '' ||
        task.subject.toLowerCase().includes(needle) ||
        task.id.toLowerCase().includes(needle) ||
        task.profiles.some((p) => p.toLowerCase().includes(needle)) ||
        systemsText(task).toLowerCase().includes(needle),
    )
    const key = (task: TaskSummary): string =>
      sort === 'subject'
        ? task.subject.toLowerCase()
        : sort === 'next'
          ? (task.nextRunAt ?? '\uffff')
          : (task.lastExecution?.startedAt ?? '')
    return found.sort((a, b) =>
      sort === 'last' ? key(b).localeCompare(key(a)) : key(a).localeCompare(key(b)),
    )
  }, [tasks.data, search, sort])

  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 49,
    overscan: 12,
  })
  const items = virtualizer.getVirtualItems()
  const before = items[0]?.start ?? 0
  const after = virtualizer.getTotalSize() - (items.at(-1)?.end ?? 0)

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          {t('overview.title')}
        </Title>
        {can(user, 'edit') && (
          <Button
            component={Link}
            href={paths.newTask}
            leftSection={<IconPlus size={18} aria-hidden />}
          >
            {t('overview.newTask')}
          </Button>
        )}
      </Group>
      <Group>
        <TextInput
          leftSection={<IconSearch size={16} aria-hidden />}
          placeholder={t('overview.searchPlaceholder')}
          aria-label={t('overview.search')}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={320}
        />
        <Select
          aria-label={t('overview.sort')}
          value={sort}
          allowDeselect={false}
          onChange={(value) => setSort((value as SortKey) ?? 'subject')}
          data={[
            { value: 'subject', label: t('overview.sortSubject') },
            { value: 'next', label: t('overview.sortNext') },
            { value: 'last', label: t('overview.sortLast') },
          ]}
          w={220}
        />
        <Text size="sm" c="dimmed" aria-live="polite">
          {t('overview.count', { count: rows.length })}
        </Text>
      </Group>
      {tasks.error && <Text c="red">{tasks.error.message}</Text>}
      <div
        ref={scroller}
        style={{ height: 'calc(100vh - 230px)', overflow: 'auto' }}
        data-testid="task-scroller"
      >
        <Table stickyHeader highlightOnHover verticalSpacing="sm">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('overview.subject')}</Table.Th>
              <Table.Th>{t('overview.systems')}</Table.Th>
              <Table.Th>{t('overview.plan')}</Table.Th>
              <Table.Th>{t('overview.active')}</Table.Th>
              <Table.Th>{t('overview.next')}</Table.Th>
              <Table.Th>{t('overview.last')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {before > 0 && (
              <tr aria-hidden style={{ height: before }}>
                <td colSpan={6} />
              </tr>
            )}
            {items.map((item) => {
              const task = rows[item.index]!
              return (
                <Table.Tr
                  key={task.id}
                  data-task={task.id}
                  ref={virtualizer.measureElement}
                  data-index={item.index}
                >
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <UnstyledButton
                        component={Link}
                        href={task.draft ? paths.editTask(task.id, 0) : paths.task(task.id)}
                        fw={600}
                        c="indigo.9"
                      >
                        {task.subject}
                      </UnstyledButton>
                      {task.draft && (
                        <Badge color="gray" variant="outline">
                          {t('overview.draft')}
                        </Badge>
                      )}
                      {!task.draft && task.neverExecuted && (
                        <Badge
                          color="violet"
                          variant="default"
                          leftSection={<IconSparkles size={12} aria-hidden />}
                        >
                          {t('overview.neverExecuted')}
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>{systemsText(task) || '–'}</Table.Td>
                  <Table.Td>{planText(task.plan)}</Table.Td>
                  <Table.Td>{task.active ? t('common.yes') : t('common.no')}</Table.Td>
                  <Table.Td>{task.active ? dateTime(task.nextRunAt) : '–'}</Table.Td>
                  <Table.Td>
                    {task.running ? (
                      <StatusIcon status="running" label />
                    ) : task.lastExecution ? (
                      <Group gap={6} wrap="nowrap">
                        <StatusIcon status={task.lastExecution.status} />
                        <Text size="sm">{dateTime(task.lastExecution.startedAt)}</Text>
                      </Group>
                    ) : (
                      <StatusIcon status="never" />
                    )}
                  </Table.Td>
                </Table.Tr>
              )
            })}
            {after > 0 && (
              <tr aria-hidden style={{ height: after }}>
                <td colSpan={6} />
              </tr>
            )}
          </Table.Tbody>
        </Table>
        {tasks.data && rows.length === 0 && (
          <Text c="dimmed" p="md">
            {search ? t('overview.noMatch') : t('overview.empty')}
          </Text>
        )}
      </div>
    </Stack>
  )
}
