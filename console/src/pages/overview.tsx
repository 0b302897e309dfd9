import { Stack, Text, Title } from '@mantine/core'
import { useTranslation } from 'react-i18next'

/** The task overview; its table comes with the API's task routes. */
export function OverviewPage() {
  const { t } = useTranslation()
  return (
    <Stack>
      <Title order={1} size="h2">
        {t('overview.title')}
      </Title>
      <Text c="dimmed">{t('overview.empty')}</Text>
    </Stack>
  )
}
