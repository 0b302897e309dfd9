import {
  Alert,
  Anchor,
  Button,
  Card,
  Group,
  Modal,
  Progress,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core'
import { useDisclosure } from '@mantine/hooks'
import { IconEdit, IconPlayerPlay, IconRefresh, IconTrash } from '@tabler/icons-react'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Link, useParams } from 'wouter'
import { useLiveUpdates, useProgress } from '../api/events.ts'
import { useExecutions, useTask, useTaskActions } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { PageHeader } from '../components/page-header.tsx'
import { useSessionUser } from '../components/session-user.ts'
import { StatusIcon } from '../components/status-icon.tsx'
import { dateTime, duration, planText } from '../format.ts'
import { paths, useNavigate } from '../router.ts'

/** One task: its plan and state, the actions, and its executions as they happen. */
export function TaskPage() {
  const { id } = useParams<{ id: string }>()
  const { t } = useTranslation()
  const user = useSessionUser()
  const navigate = useNavigate()
  const task = useTask(id)
  const executions = useExecutions(id)
  const actions = useTaskActions(id)
  const live = useLiveUpdates()
  const [deleting, { open: askDelete, close: closeDelete }] = useDisclosure(false)
  const [confirmText, setConfirmText] = useState('')

  if (task.error) return <Alert color="red">{task.error.message}</Alert>
  if (!task.data) return null
  const data = task.data
  const items = executions.data?.pages.flatMap((p) => p.items) ?? []
  const running = data.running
  const queued = data.queued
  const last = data.lastExecution

  return (
    <Stack>
      <PageHeader
        title={data.subject}
        actions={
          <>
            {can(user, 'operate') && !data.draft && (
              <Button
                leftSection={<IconPlayerPlay size={18} aria-hidden />}
                onClick={() => actions.start.mutate()}
                loading={actions.start.isPending}
              >
                {t('task.start')}
              </Button>
            )}
            {can(user, 'edit') && (
              <>
                <Button
                  variant="default"
                  component={Link}
                  href={paths.editTask(id, 0)}
                  leftSection={<IconEdit size={18} aria-hidden />}
                >
                  {t('task.edit')}
                </Button>
                <Button
                  color="red"
                  variant="outline"
                  onClick={askDelete}
                  leftSection={<IconTrash size={18} aria-hidden />}
                >
                  {t('task.delete')}
                </Button>
              </>
            )}
          </>
        }
      />
      {data.draft && (
        <Alert color="gray" title={t('task.draftTitle')}>
          {t('task.draft')}{' '}
          {can(user, 'edit') && (
            <Anchor component={Link} href={paths.editTask(id, 0)}>
              {t('task.continueDraft')}
            </Anchor>
          )}
        </Alert>
      )}
      {actions.start.data && actions.start.data.execution.status === 'queued' && (
        <Alert color="blue" role="status">
          {t('task.queued')}
        </Alert>
      )}
      {(actions.start.error ?? actions.activate.error) && (
        <Alert color="red" role="alert">
          {(actions.start.error ?? actions.activate.error)?.message}
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('task.plan')}
          </Text>
          <Text fw={600}>{planText(data.plan)}</Text>
          <Switch
            mt="sm"
            label={t('task.planActive')}
            checked={data.active}
            disabled={!can(user, 'edit') || data.draft || actions.activate.isPending}
            onChange={(e) => actions.activate.mutate(e.currentTarget.checked)}
          />
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('task.next')}
          </Text>
          <Text fw={600}>{data.active ? dateTime(data.nextRunAt) : t('task.notPlanned')}</Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('task.last')}
          </Text>
          {last ? (
            <Group gap="xs">
              <StatusIcon status={last.status} label />
              <Text size="sm">{dateTime(last.startedAt)}</Text>
            </Group>
          ) : (
            <Text fw={600}>{t('overview.neverExecuted')}</Text>
          )}
        </Card>
      </SimpleGrid>
      {data.paused && (
        <Alert color="orange.9" title={t('task.paused')}>
          {data.paused.reason}
        </Alert>
      )}
      <Text size="sm">{data.profiles.join(' ↔ ')}</Text>

      <Card withBorder>
        <Group justify="space-between" mb="sm">
          <Text fw={700} component="h2" size="lg">
            {t('task.executions')}
          </Text>
          <Group gap="xs">
            <Text size="xs" c="dimmed" aria-live="polite">
              {live ? t('task.live') : t('task.notLive')}
            </Text>
            <Button
              variant="default"
              size="xs"
              leftSection={<IconRefresh size={16} aria-hidden />}
              onClick={() => void executions.refetch()}
            >
              {t('task.refresh')}
            </Button>
          </Group>
        </Group>
        {running && <RunningProgress executionId={running.id} />}
        {queued && (
          <Text size="sm" mb="sm">
            {t('task.queuedBehind')}
          </Text>
        )}
        <Table data-testid="executions" highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('execution.status')}</Table.Th>
              <Table.Th>{t('execution.trigger')}</Table.Th>
              <Table.Th>{t('execution.started')}</Table.Th>
              <Table.Th>{t('execution.duration')}</Table.Th>
              <Table.Th>{t('execution.changes')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((execution) => (
              <Table.Tr
                key={execution.id}
                data-execution={execution.id}
                data-status={execution.status}
              >
                <Table.Td>
                  <Anchor component={Link} href={paths.execution(String(execution.id))}>
                    <StatusIcon status={execution.status} label />
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  {t(`trigger.${execution.trigger}`, { defaultValue: execution.trigger })}
                </Table.Td>
                <Table.Td>{dateTime(execution.startedAt ?? execution.queuedAt)}</Table.Td>
                <Table.Td>{duration(execution.startedAt, execution.endedAt)}</Table.Td>
                <Table.Td>{`${execution.totals.created ?? 0} / ${execution.totals.updated ?? 0} / ${execution.totals.deleted ?? 0}`}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {items.length === 0 && (
          <Text c="dimmed" size="sm">
            {t('task.noExecutions')}
          </Text>
        )}
        {executions.hasNextPage && (
          <Group justify="center" mt="sm">
            <Button
              variant="default"
              size="xs"
              loading={executions.isFetchingNextPage}
              onClick={() => void executions.fetchNextPage()}
            >
              {t('task.olderExecutions', { count: items.length })}
            </Button>
          </Group>
        )}
      </Card>

      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={deleting}
        onClose={closeDelete}
        title={t('task.deleteTitle', { subject: data.subject })}
      >
        <Stack>
          <Text size="sm">{t('task.deleteWhat')}</Text>
          <Text size="sm">{t('task.deleteRelink')}</Text>
          <TextInput
            label={t('task.deleteConfirm', { id })}
            value={confirmText}
            onChange={(e) => setConfirmText(e.currentTarget.value)}
          />
          {actions.remove.error && <Alert color="red">{actions.remove.error.message}</Alert>}
          <Group justify="flex-end">
            <Button variant="default" onClick={closeDelete}>
              {t('common.cancel')}
            </Button>
            <Button
              color="red"
              disabled={confirmText !== id}
              loading={actions.remove.isPending}
              onClick={() =>
                actions.remove.mutate(undefined, { onSuccess: () => navigate(paths.overview) })
              }
            >
              {t('task.deleteSubmit')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  )
}

/** The running execution's progress as the engine reports it (live, from /api/events). */
function RunningProgress({ executionId }: { executionId: number }) {
  const { t } = useTranslation()
  const progress = useProgress(executionId)
  return (
    <Stack gap={4} mb="sm" data-testid="progress">
      <Text size="sm" aria-live="polite">
        {progress
          ? t('task.progressOf', {
              read: progress.counts.read,
              written: progress.counts.created + progress.counts.updated + progress.counts.deleted,
              pair: progress.pairId,
            })
          : t('status.running')}
      </Text>
      <Progress value={100} animated aria-label={t('status.running')} />
    </Stack>
  )
}
