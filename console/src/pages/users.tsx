import { Card, Stack, Table, Text, Title } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { useTokens, useUsers } from '../api/queries.ts'
import { dateTime } from '../format.ts'

/** Users and API tokens (administrators only; the server refuses everyone else). */
export function UsersPage() {
  const { t } = useTranslation()
  const users = useUsers()
  const tokens = useTokens()
  return (
    <Stack>
      <Title order={1} size="h2">{t('users.title')}</Title>
      <Card withBorder>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('signIn.username')}</Table.Th>
              <Table.Th>{t('users.role')}</Table.Th>
              <Table.Th>{t('users.created')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data?.items ?? []).map((u) => (
              <Table.Tr key={u.id}>
                <Table.Td>{u.username}</Table.Td>
                <Table.Td>{t(`roles.${u.role}`)}</Table.Td>
                <Table.Td>{dateTime(u.createdAt)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
      <Title order={2} size="h3">{t('users.tokens')}</Title>
      <Card withBorder>
        {(tokens.data?.items ?? []).length === 0 ? (
          <Text c="dimmed" size="sm">{t('users.noTokens')}</Text>
        ) : (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('users.tokenName')}</Table.Th>
                <Table.Th>{t('users.scopes')}</Table.Th>
                <Table.Th>{t('users.expires')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(tokens.data?.items ?? []).map((token) => (
                <Table.Tr key={token.id}>
                  <Table.Td>{token.name}</Table.Td>
                  <Table.Td>{token.scopes.join(', ')}</Table.Td>
                  <Table.Td>{dateTime(token.expiresAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Card>
    </Stack>
  )
}
