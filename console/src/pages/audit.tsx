import { Anchor, Button, Code, Group, Stack, Text, Timeline, Title } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { useAudit, useTasks } from '../api/queries.ts'
import { can } from '../api/session.ts'
import { useSessionUser } from '../components/session-user.ts'
import { TaskPicker } from '../components/task-picker.tsx'
import { dateTime } from '../format.ts'
import { paths, useNavigate, useQueryParam } from '../router.ts'

/**
 * Every change, newest first: who, when, what, and the task it was made to (a link). Of
 * every task, or of the one picked; an administrator also sees the changes of no task
 * (sign-ins, users, tokens).
 */
export function AuditPage() {
  const { t } = useTranslation()
  const user = useSessionUser()
  const taskId = useQueryParam('task')
  const navigate = useNavigate()
  const audit = useAudit(taskId, can(user, 'admin'))
  const subjects = new Map((useTasks().data ?? []).map((task) => [task.id, task.subject]))
  const items = audit.data?.pages.flatMap((p) => p.items) ?? []
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('audit.title')}
      </Title>
      <TaskPicker
        all={t('audit.allTasks')}
        value={taskId}
        onChange={(id) =>
          navigate(id ? `${paths.audit}?task=${encodeURIComponent(id)}` : paths.audit, true)
        }
      />
      {audit.error && <Text c="red">{audit.error.message}</Text>}
      {audit.data && items.length === 0 && <Text c="dimmed">{t('audit.empty')}</Text>}
      <Timeline bulletSize={14} lineWidth={2} data-testid="audit">
        {items.map((event) => (
          <Timeline.Item
            key={event.id}
            data-task={event.taskId}
            title={`${event.action}${event.target ? ` · ${event.target}` : ''}`}
          >
            <Text size="sm" c="dimmed">
              {dateTime(event.at)} · {event.actor}
              {event.taskId && (
                <>
                  {' · '}
                  {subjects.has(event.taskId) ? (
                    <Anchor
                      component={Link}
                      href={paths.task(event.taskId)}
                      size="sm"
                      underline="always"
                    >
                      {subjects.get(event.taskId)}
                    </Anchor>
                  ) : (
                    // Deleted since, or not listed: its id, with nothing to link to.
                    <Code>{event.taskId}</Code>
                  )}
                </>
              )}
            </Text>
            {event.detail !== undefined && event.detail !== null && (
              <Code block>{JSON.stringify(event.detail, null, 2)}</Code>
            )}
          </Timeline.Item>
        ))}
      </Timeline>
      {audit.hasNextPage && (
        <Group justify="center">
          <Button
            variant="default"
            size="xs"
            loading={audit.isFetchingNextPage}
            onClick={() => void audit.fetchNextPage()}
          >
            {t('audit.older', { count: items.length })}
          </Button>
        </Group>
      )}
    </Stack>
  )
}
