import { Alert, Button, Card, Group, Select, SimpleGrid, Stack, Text } from '@mantine/core'
import { IconDatabaseSearch, IconPlugConnected } from '@tabler/icons-react'
import { useMutation } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { ConnectionForm, type ConnectionValues } from '../components/connection-form.tsx'
import { type StoredSystem, type SystemProfile, useProfile } from './wizard-api.ts'
import type { TaskDocument, WizardState } from './wizard-state.ts'

type System = {
  bridge: string
  connection?: ConnectionValues
  settings?: Record<string, unknown>
  profile?: { id: string }
}

/** Step 2: each system's connection form (from its bridge, as its profile labels it); the home database. */
export function StepConnection({
  state,
  onChange,
}: {
  state: WizardState
  onChange: (change: Partial<WizardState>) => void
}) {
  const systems = Object.entries(state.document!.systems as Record<string, System>)
  const setSystem = (key: string, system: System) =>
    onChange({
      document: {
        ...state.document!,
        systems: { ...state.document!.systems, [key]: system },
      } as TaskDocument,
    })
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      {systems.map(([key, system], index) => (
        <SystemConnection
          key={key}
          systemKey={key}
          system={system}
          home={index === 0}
          stored={state.taskId ? { task: state.taskId, system: key } : undefined}
          onChange={(s) => setSystem(key, s)}
        />
      ))}
    </SimpleGrid>
  )
}

function SystemConnection({
  systemKey,
  system,
  home,
  stored,
  onChange,
}: {
  systemKey: string
  system: System
  home: boolean
  /** The stored task and key, once stored: the server fills in a masked secret. */
  stored: StoredSystem | undefined
  onChange: (system: System) => void
}) {
  const { t } = useTranslation()
  const profile: SystemProfile | undefined = useProfile(system.profile?.id).data
  const values = system.connection ?? {}
  const check = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/connections/check', {
          body: {
            system: {
              bridge: system.bridge,
              connection: values,
              ...(system.settings ? { settings: system.settings } : {}),
            },
            ...(stored ? { stored } : {}),
          },
        }),
      ),
  })
  const databases = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/profiles/{id}/databases', {
          params: { path: { id: profile!.id } },
          body: { connection: values, ...(stored ? { stored } : {}) },
        }),
      ).items,
  })
  const title = t(home ? 'wizard.homeConnection' : 'wizard.otherConnection')
  return (
    <Card withBorder component="section" aria-label={title}>
      <Text fw={700} mb="sm">
        {title} · {profile?.system ?? systemKey} ({system.bridge})
      </Text>
      <Stack>
        {profile && (
          <ConnectionForm
            idPrefix={systemKey}
            fields={profile.form.fields}
            values={values}
            onChange={(connection) => onChange({ ...system, connection })}
            render={(field) =>
              home && field.pickFromServer ? (
                <Group align="flex-end" wrap="nowrap">
                  <Select
                    label={field.label}
                    description={field.help}
                    placeholder={t('wizard.loadDatabases')}
                    data={
                      databases.data ??
                      (typeof values[field.name] === 'string' ? [String(values[field.name])] : [])
                    }
                    value={
                      typeof values[field.name] === 'string' ? String(values[field.name]) : null
                    }
                    onChange={(database) => {
                      const next = { ...values }
                      if (database) next[field.name] = database
                      else delete next[field.name]
                      onChange({ ...system, connection: next })
                    }}
                    searchable
                    flex={1}
                  />
                  <Button
                    variant="default"
                    leftSection={<IconDatabaseSearch size={18} aria-hidden />}
                    onClick={() => databases.mutate()}
                    loading={databases.isPending}
                  >
                    {t('wizard.readDatabases')}
                  </Button>
                </Group>
              ) : undefined
            }
          />
        )}
        <Group>
          <Button
            variant="default"
            leftSection={<IconPlugConnected size={18} aria-hidden />}
            onClick={() => check.mutate()}
            loading={check.isPending}
          >
            {t('wizard.testConnection')}
          </Button>
        </Group>
        {check.isSuccess && (
          <Alert color="green" role="status">
            {t('wizard.connectionOk')}
          </Alert>
        )}
        {check.error && (
          <Alert color="red" role="status">
            {check.error.message}
          </Alert>
        )}
        {databases.error && (
          <Alert color="red" role="status">
            {databases.error.message}
          </Alert>
        )}
      </Stack>
    </Card>
  )
}
