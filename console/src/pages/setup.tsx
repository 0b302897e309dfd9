import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { paths, useNavigate, useQueryParam } from '../router.ts'

/** The first administrator, through the one-time setup URL the first start prints. */
export function SetupPage() {
  const { t } = useTranslation()
  const token = useQueryParam('token') ?? ''
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [username, setUsername] = useState('admin')
  const [password, setPassword] = useState('')
  const [repeat, setRepeat] = useState('')
  const setup = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/setup', { body: { token, username, password } })),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: ['session'] })
      navigate(paths.signIn, true)
    },
  })
  const mismatch = repeat !== '' && repeat !== password
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={420} shadow="sm">
        <form
          onSubmit={(event) => {
            event.preventDefault()
            if (!mismatch) setup.mutate()
          }}
        >
          <Stack>
            <Title order={1} size="h2">
              {t('setup.title')}
            </Title>
            <Text size="sm">{t('setup.intro')}</Text>
            {!token && <Alert color="orange.9">{t('setup.noToken')}</Alert>}
            {setup.error && (
              <Alert color="red" role="alert">
                {setup.error.message}
              </Alert>
            )}
            <TextInput
              label={t('signIn.username')}
              autoComplete="username"
              required
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
            />
            <PasswordInput
              label={t('signIn.password')}
              description={t('setup.passwordHint')}
              autoComplete="new-password"
              required
              minLength={10}
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <PasswordInput
              label={t('setup.repeat')}
              autoComplete="new-password"
              required
              error={mismatch ? t('setup.mismatch') : undefined}
              value={repeat}
              onChange={(e) => setRepeat(e.currentTarget.value)}
            />
            <Button type="submit" loading={setup.isPending} disabled={!token}>
              {t('setup.submit')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  )
}
