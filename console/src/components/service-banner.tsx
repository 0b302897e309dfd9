import { Alert } from '@mantine/core'
import { IconPlugConnectedX } from '@tabler/icons-react'
import { useTranslation } from 'react-i18next'
import { useServiceStatus } from '../api/queries.ts'

/** Says so when no service runs: nothing planned will happen until one starts. */
export function ServiceBanner() {
  const { t } = useTranslation()
  const status = useServiceStatus()
  if (!status.data || status.data.running) return null
  return (
    <Alert color="orange" mb="md" icon={<IconPlugConnectedX aria-hidden />} title={t('service.noneTitle')}>
      {t('service.none')}
    </Alert>
  )
}
