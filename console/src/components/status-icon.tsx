import { Group, Loader, Text, ThemeIcon, Tooltip } from '@mantine/core'
import {
  IconAlertCircle,
  IconBan,
  IconCircleCheck,
  IconCircleDashed,
  IconCircleX,
  IconClock,
} from '@tabler/icons-react'
import { useTranslation } from 'react-i18next'

/** An execution's status as the engine reports it, or 'never' for a task not yet run. */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'never'

/** The icon of a status, with its name for screen readers (and as text when `label`). */
export function StatusIcon({ status, label }: { status: string; label?: boolean }) {
  const { t } = useTranslation()
  const name = t(`status.${status}`, { defaultValue: status })
  const icon =
    status === 'running' ? (
      <Loader size={18} color="blue" aria-hidden />
    ) : (
      <ThemeIcon variant="transparent" size="sm" color={colorOf(status)} aria-hidden>
        {status === 'succeeded' ? (
          <IconCircleCheck />
        ) : status === 'failed' ? (
          <IconCircleX />
        ) : status === 'partial' ? (
          <IconAlertCircle />
        ) : status === 'queued' ? (
          <IconClock />
        ) : status === 'cancelled' ? (
          <IconBan />
        ) : (
          <IconCircleDashed />
        )}
      </ThemeIcon>
    )
  return (
    <Tooltip label={name} disabled={label}>
      <Group
        gap={6}
        wrap="nowrap"
        data-status={status}
        role="img"
        aria-label={name}
        component="span"
      >
        {icon}
        {label && <Text size="sm">{name}</Text>}
      </Group>
    </Tooltip>
  )
}

function colorOf(status: string): string {
  if (status === 'succeeded') return 'green.8'
  if (status === 'failed') return 'red.8'
  if (status === 'queued') return 'blue.8'
  if (status === 'partial') return 'orange.9'
  return 'gray.7'
}
