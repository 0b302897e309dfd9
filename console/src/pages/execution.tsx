import {
  Alert,
  Anchor,
  Badge,
  Card,
  Code,
  Group,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core'
import { IconSearch } from '@tabler/icons-react'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Link, useParams } from 'wouter'
import { useLiveUpdates } from '../api/events.ts'
import { useExecution, useExecutionChanges, useExecutionLines, useTask } from '../api/queries.ts'
import { PageHeader } from '../components/page-header.tsx'
import { StatusIcon } from '../components/status-icon.tsx'
import { dateTime, duration } from '../format.ts'
import { paths } from '../router.ts'

/** The protocol of one execution: what started it, counts, log lines, changed records. */
export function ExecutionPage() {
  const params = useParams<{ id: string }>()
  const id = Number(params.id)
  const { t } = useTranslation()
  useLiveUpdates()
  const execution = useExecution(id)
  const lines = useExecutionLines(id)
  const [key, setKey] = useState('')
  const changes = useExecutionChanges(id, key.trim())
  const task = useTask(execution.data?.taskId)
  if (execution.error) return <Alert color="red">{execution.error.message}</Alert>
  if (!execution.data) return null
  const e = execution.data
  return (
    <Stack>
      <PageHeader
        title={t('execution.title', { id })}
        crumbs={[{ label: task.data?.subject ?? e.taskId, to: paths.task(e.taskId) }]}
      />
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('execution.status')}
          </Text>
          <StatusIcon status={e.status} label />
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('execution.trigger')}
          </Text>
          <Text>{t(`trigger.${e.trigger}`, { defaultValue: e.trigger })}</Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('execution.started')}
          </Text>
          <Text>{dateTime(e.startedAt)}</Text>
        </Card>
        <Card withBorder>
          <Text size="sm" c="dimmed">
            {t('execution.ended')}
          </Text>
          <Text>
            {dateTime(e.endedAt)} ({duration(e.startedAt, e.endedAt)})
          </Text>
        </Card>
      </SimpleGrid>
      {e.error && (
        <Alert color="red" title={t('execution.failed')}>
          <Code>{e.error.code}</Code> {e.error.message}
        </Alert>
      )}

      <Card withBorder>
        <Text fw={700} component="h2" size="lg" mb="sm">
          {t('execution.counts')}
        </Text>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('execution.pair')}</Table.Th>
              <Table.Th>{t('execution.direction')}</Table.Th>
              <Table.Th>{t('execution.created')}</Table.Th>
              <Table.Th>{t('execution.updated')}</Table.Th>
              <Table.Th>{t('execution.deleted')}</Table.Th>
              <Table.Th>{t('execution.conflicts')}</Table.Th>
              <Table.Th>{t('execution.failedRecords')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {e.counts.map((c) => (
              <Table.Tr key={`${c.pair}-${c.from}-${c.to}`}>
                <Table.Td>{c.pair}</Table.Td>
                <Table.Td>
                  {c.from} → {c.to}
                </Table.Td>
                <Table.Td>{c.created}</Table.Td>
                <Table.Td>{c.updated}</Table.Td>
                <Table.Td>{c.deleted}</Table.Td>
                <Table.Td>
                  {c.conflicts > 0 ? (
                    <Anchor
                      component={Link}
                      href={`${paths.conflicts}?task=${encodeURIComponent(e.taskId)}`}
                    >
                      {c.conflicts}
                    </Anchor>
                  ) : (
                    0
                  )}
                </Table.Td>
                <Table.Td>
                  {c.errors > 0 ? (
                    <Anchor
                      component={Link}
                      href={`${paths.errors}?task=${encodeURIComponent(e.taskId)}`}
                    >
                      {c.errors}
                    </Anchor>
                  ) : (
                    0
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>

      <Card withBorder>
        <Group justify="space-between" mb="sm">
          <Text fw={700} component="h2" size="lg">
            {t('execution.records')}
          </Text>
          <TextInput
            size="xs"
            leftSection={<IconSearch size={14} aria-hidden />}
            aria-label={t('execution.searchKey')}
            placeholder={t('execution.searchKey')}
            value={key}
            onChange={(ev) => setKey(ev.currentTarget.value)}
          />
        </Group>
        <Table data-testid="changes">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('execution.change')}</Table.Th>
              <Table.Th>{t('execution.pair')}</Table.Th>
              <Table.Th>{t('execution.side')}</Table.Th>
              <Table.Th>{t('execution.key')}</Table.Th>
              <Table.Th>{t('execution.detail')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(changes.data?.items ?? []).map((c) => (
              <Table.Tr key={c.id}>
                <Table.Td>
                  <Badge
                    variant="outline"
                    color={c.op === 'error' ? 'red.9' : c.op === 'conflict' ? 'orange.9' : 'gray.8'}
                  >
                    {t(`change.${c.op}`, { defaultValue: c.op })}
                  </Badge>
                </Table.Td>
                <Table.Td>{c.pairId}</Table.Td>
                <Table.Td>
                  {c.from} → {c.to}
                </Table.Td>
                <Table.Td>
                  <Code>{c.sourceKey}</Code>
                  {c.targetKey ? (
                    <>
                      {' '}
                      → <Code>{c.targetKey}</Code>
                    </>
                  ) : null}
                </Table.Td>
                <Table.Td>{c.detail?.message ?? c.detail?.mapping ?? ''}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>

      <Card withBorder>
        <Text fw={700} component="h2" size="lg" mb="sm">
          {t('execution.log')}
        </Text>
        <pre
          data-testid="log"
          style={{
            fontSize: 12,
            margin: 0,
            whiteSpace: 'pre-wrap',
          }}
        >
          {(lines.data?.items ?? [])
            .map(
              (line) =>
                `${dateTime(line.at)}  ${line.level.toUpperCase().padEnd(5)} ${line.message}`,
            )
            .join('\n')}
        </pre>
      </Card>
    </Stack>
  )
}
