import { Code, Stack, Text, Timeline, Title } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { useAudit } from '../api/queries.ts'
import { dateTime } from '../format.ts'

/** Every change, newest first: who, when, what. */
export function AuditPage() {
  const { t } = useTranslation()
  const audit = useAudit()
  const items = audit.data?.items ?? []
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('audit.title')}
      </Title>
      {items.length === 0 && <Text c="dimmed">{t('audit.empty')}</Text>}
      <Timeline bulletSize={14} lineWidth={2}>
        {items.map((event) => (
          <Timeline.Item
            key={event.id}
            title={`${event.action}${event.target ? ` · ${event.target}` : ''}`}
          >
            <Text size="sm" c="dimmed">
              {dateTime(event.at)} · {event.actor}
            </Text>
            {event.detail !== undefined && event.detail !== null && (
              <Code block>{JSON.stringify(event.detail, null, 2)}</Code>
            )}
          </Timeline.Item>
        ))}
      </Timeline>
    </Stack>
  )
}
