import { Alert, Button, Center, Paper, PasswordInput, Stack, TextInput, Title } from '@mantine/core'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useSignIn } from '../api/session.ts'

export function SignInPage() {
  const { t } = useTranslation()
  const signIn = useSignIn()
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  return (
    <Center mih="100vh" component="main">
      <Paper withBorder p="xl" w={380} shadow="sm">
        <form
          onSubmit={(event) => {
            event.preventDefault()
            signIn.mutate({ username, password })
          }}
        >
          <Stack>
            <Title order={1} size="h2">
              {t('signIn.title')}
            </Title>
            {signIn.error && (
              <Alert color="red" role="alert">
                {signIn.error.message}
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
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={signIn.isPending}>
              {t('signIn.submit')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  )
}
