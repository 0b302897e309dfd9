import { Alert, Button, Card, Group, Select, SimpleGrid, Stack, Text } from '@mantine/core'
import { IconPlugConnected } from '@tabler/icons-react'
import { useMutation, useQuery } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { ConnectionForm, type ConnectionValues, type FormSchema } from '../components/connection-form.tsx'
import type { TaskDocument, WizardState } from './wizard-state.ts'

type System = { bridge: string; connection?: ConnectionValues; profile?: { id: string } }

/** Step 2: each system's connection form (from its bridge), a connection test, the home database. */
export function StepConnection({ state, onChange }: { state: WizardState; onChange: (change: Partial<WizardState>) => void }) {
  const systems = Object.entries(state.document!.systems as Record<string, System>)
  const setSystem = (key: string, system: System) =>
    onChange({ document: { ...state.document!, systems: { ...state.document!.systems, [key]: system } } as TaskDocument })
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      {systems.map(([key, system], index) => (
        <SystemConnection key={key} systemKey={key} system={system} home={index === 0} onChange={(s) => setSystem(key, s)} />
      ))}
    </SimpleGrid>
  )
}

function SystemConnection({ systemKey, system, home, onChange }: { systemKey: string; system: System; home: boolean; onChange: (system: System) => void }) {
  const { t } = useTranslation()
  const form = useQuery({
    queryKey: ['bridge', system.bridge],
    queryFn: async () => unwrap(await api.GET('/api/bridges/{name}', { params: { path: { name: system.bridge } } })),
    staleTime: Number.POSITIVE_INFINITY,
  })
  const values = system.connection ?? {}
  const check = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/connections/check', { body: { bridge: system.bridge, connection: values } })),
  })
  const databases = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST('/api/connections/databases', { body: { bridge: system.bridge, connection: values } })),
  })
  return (
    <Card withBorder component="section" aria-label={t(home ? 'wizard.homeConnection' : 'wizard.otherConnection')}>
      <Text fw={700} mb="sm">
        {t(home ? 'wizard.homeConnection' : 'wizard.otherConnection')} · {systemKey} ({system.bridge})
      </Text>
      <Stack>
        {form.data && (
          <ConnectionForm
            idPrefix={systemKey}
            schema={form.data.connection as FormSchema}
            values={values}
            onChange={(connection) => onChange({ ...system, connection })}
          />
        )}
        {home && form.data?.capabilities?.listDatabases && (
          <Group align="flex-end">
            <Select
              label={t('wizard.database')}
              placeholder={t('wizard.loadDatabases')}
              data={databases.data?.databases ?? []}
              value={typeof values.database === 'string' ? values.database : null}
              onDropdownOpen={() => {
                if (!databases.data && !databases.isPending) databases.mutate()
              }}
              onChange={(database) => onChange({ ...system, connection: { ...values, ...(database ? { database } : {}) } })}
              searchable
            />
          </Group>
        )}
        <Group>
          <Button variant="light" leftSection={<IconPlugConnected size={18} aria-hidden />} onClick={() => check.mutate()} loading={check.isPending}>
            {t('wizard.testConnection')}
          </Button>
        </Group>
        {check.data && (
          <Alert color={check.data.ok ? 'green' : 'red'} role="status">
            {check.data.message}
          </Alert>
        )}
        {check.error && <Alert color="red" role="status">{check.error.message}</Alert>}
      </Stack>
    </Card>
  )
}
