import { Anchor, Center, Paper, Stack, Text, Title } from '@mantine/core'
import { useQuery } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from './api/client.ts'

/** The console's first page while the API grows its routes: the service and its store. */
export function App() {
  const { t } = useTranslation()
  const ready = useQuery({
    queryKey: ['readyz'],
    queryFn: async () => unwrap(await api.GET('/readyz')),
  })
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={460} shadow="sm">
        <Stack>
          <Title order={1} size="h2">
            OpenSync
          </Title>
          <Text>{t('welcome.intro')}</Text>
          <Text>
            {t('welcome.store')}{' '}
            <Text span fw={700}>
              {ready.data ? ready.data.store : ready.error ? ready.error.message : '…'}
            </Text>
          </Text>
          <Anchor href="/api/docs">{t('welcome.reference')}</Anchor>
        </Stack>
      </Paper>
    </Center>
  )
}
