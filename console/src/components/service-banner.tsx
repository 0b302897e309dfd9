import { Alert } from '@mantine/core'
import { IconPlugConnectedX } from '@tabler/icons-react'
import { useQuery } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'

/** Says so when no process runs executions: nothing planned happens until one starts. */
export function ServiceBanner() {
  const { t } = useTranslation()
  const status = useQuery({
    queryKey: ['status'],
    queryFn: async () => unwrap(await api.GET('/api/status')),
    refetchInterval: 30_000,
  })
  if (!status.data || status.data.workers > 0) return null
  return (
    <Alert
      color="orange.9"
      mb="md"
      icon={<IconPlugConnectedX aria-hidden />}
      title={t('service.noneTitle')}
      data-testid="no-service"
    >
      {t('service.none')}
    </Alert>
  )
}
