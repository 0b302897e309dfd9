import {
  Alert,
  Button,
  Card,
  Code,
  Group,
  Modal,
  MultiSelect,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core'
import { useDisclosure } from '@mantine/hooks'
import { IconKey, IconUserPlus } from '@tabler/icons-react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { useTokens, useUsers } from '../api/queries.ts'
import type { Body } from '../api/types.ts'
import { dateTime } from '../format.ts'

type Role = Body<'/api/users'>['role']
type Scope = Body<'/api/tokens'>['scopes'][number]
const ROLES: readonly Role[] = ['admin', 'editor', 'operator', 'viewer']
const SCOPES: readonly Scope[] = ['read', 'operate', 'edit', 'admin', 'metrics']

/** Users and API tokens (administrators only; the server refuses everyone else). */
export function UsersPage() {
  const { t } = useTranslation()
  const users = useUsers()
  const tokens = useTokens()
  const queryClient = useQueryClient()
  const [adding, addModal] = useDisclosure(false)
  const [issuing, tokenModal] = useDisclosure(false)
  const [user, setUser] = useState({ username: '', password: '', role: 'viewer' as Role })
  const [token, setToken] = useState({ name: '', scopes: ['read'] as Scope[] })
  const addUser = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/users', { body: user })),
    onSuccess: () => {
      addModal.close()
      setUser({ username: '', password: '', role: 'viewer' })
      return queryClient.invalidateQueries({ queryKey: ['users'] })
    },
  })
  const removeUser = useMutation({
    mutationFn: async (username: string) =>
      unwrap(await api.DELETE('/api/users/{username}', { params: { path: { username } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['users'] }),
  })
  const issue = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/tokens', { body: token })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  })
  const revoke = useMutation({
    mutationFn: async (id: number) =>
      unwrap(await api.DELETE('/api/tokens/{id}', { params: { path: { id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['tokens'] }),
  })
  const error = users.error ?? tokens.error ?? removeUser.error ?? revoke.error
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          {t('users.title')}
        </Title>
        <Button leftSection={<IconUserPlus size={18} aria-hidden />} onClick={addModal.open}>
          {t('users.add')}
        </Button>
      </Group>
      {error && <Alert color="red">{error.message}</Alert>}
      <Card withBorder>
        <Table data-testid="users">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('signIn.username')}</Table.Th>
              <Table.Th>{t('users.role')}</Table.Th>
              <Table.Th>{t('users.created')}</Table.Th>
              <Table.Th>{t('errors.actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data?.items ?? []).map((u) => (
              <Table.Tr key={u.id}>
                <Table.Td>{u.username}</Table.Td>
                <Table.Td>
                  {t(`roles.${u.role}`)}
                  {u.locked ? ` · ${t('users.locked')}` : ''}
                </Table.Td>
                <Table.Td>{dateTime(u.createdAt)}</Table.Td>
                <Table.Td>
                  <Button
                    size="compact-xs"
                    variant="subtle"
                    color="red"
                    aria-label={t('users.removeOne', { name: u.username })}
                    onClick={() => removeUser.mutate(u.username)}
                  >
                    {t('users.remove')}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Group justify="space-between">
        <Title order={2} size="h3">
          {t('users.tokens')}
        </Title>
        <Button
          variant="default"
          leftSection={<IconKey size={18} aria-hidden />}
          onClick={() => {
            issue.reset()
            tokenModal.open()
          }}
        >
          {t('users.newToken')}
        </Button>
      </Group>
      <Card withBorder>
        {(tokens.data?.items ?? []).length === 0 ? (
          <Text c="dimmed" size="sm">
            {t('users.noTokens')}
          </Text>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('users.tokenName')}</Table.Th>
                <Table.Th>{t('users.tokenUser')}</Table.Th>
                <Table.Th>{t('users.scopes')}</Table.Th>
                <Table.Th>{t('users.expires')}</Table.Th>
                <Table.Th>{t('errors.actions')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(tokens.data?.items ?? []).map((tk) => (
                <Table.Tr key={tk.id}>
                  <Table.Td>{tk.name}</Table.Td>
                  <Table.Td>{tk.user ?? '–'}</Table.Td>
                  <Table.Td>{tk.scopes.join(', ')}</Table.Td>
                  <Table.Td>{dateTime(tk.expiresAt)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      aria-label={t('users.revokeOne', { name: tk.name })}
                      onClick={() => revoke.mutate(tk.id)}
                    >
                      {t('users.revoke')}
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>

      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={adding}
        onClose={addModal.close}
        title={t('users.add')}
      >
        <form
          onSubmit={(e) => {
            e.preventDefault()
            addUser.mutate()
          }}
        >
          <Stack>
            {addUser.error && <Alert color="red">{addUser.error.message}</Alert>}
            <TextInput
              label={t('signIn.username')}
              required
              value={user.username}
              onChange={(e) => setUser({ ...user, username: e.currentTarget.value })}
            />
            <PasswordInput
              label={t('signIn.password')}
              description={t('setup.passwordHint')}
              required
              autoComplete="new-password"
              value={user.password}
              onChange={(e) => setUser({ ...user, password: e.currentTarget.value })}
            />
            <Select
              label={t('users.role')}
              allowDeselect={false}
              value={user.role}
              onChange={(role) => setUser({ ...user, role: (role as Role) ?? 'viewer' })}
              data={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))}
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={addModal.close}>
                {t('common.cancel')}
              </Button>
              <Button type="submit" loading={addUser.isPending}>
                {t('users.addSubmit')}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>

      <Modal
        closeButtonProps={{ 'aria-label': t('common.close') }}
        opened={issuing}
        onClose={tokenModal.close}
        title={t('users.newToken')}
      >
        {issue.data ? (
          <Stack>
            <Text size="sm">{t('users.tokenOnce')}</Text>
            <Code block data-testid="new-token">
              {issue.data.token}
            </Code>
            <Button onClick={tokenModal.close}>{t('users.done')}</Button>
          </Stack>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault()
              issue.mutate()
            }}
          >
            <Stack>
              {issue.error && <Alert color="red">{issue.error.message}</Alert>}
              <TextInput
                label={t('users.tokenName')}
                required
                value={token.name}
                onChange={(e) => setToken({ ...token, name: e.currentTarget.value })}
              />
              <MultiSelect
                label={t('users.scopes')}
                value={token.scopes}
                onChange={(scopes) => setToken({ ...token, scopes: scopes as Scope[] })}
                data={SCOPES.map((s) => ({ value: s, label: s }))}
              />
              <Group justify="flex-end">
                <Button type="submit" loading={issue.isPending}>
                  {t('users.issue')}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Modal>
    </Stack>
  )
}
