import { Card, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { useProfiles } from './wizard-api.ts'
import type { WizardState } from './wizard-state.ts'

/** Step 1: the home system and the system to connect, from the profiles; the subject. */
export function StepSystems({
  state,
  onChange,
}: {
  state: WizardState
  onChange: (change: Partial<WizardState>) => void
}) {
  const { t } = useTranslation()
  const profiles = useProfiles()
  const all = profiles.data ?? []
  const option = (p: (typeof all)[number]) => ({ value: p.id, label: `${p.system} ${p.version}` })
  const describe = (id: string | null) => {
    const p = all.find((x) => x.id === id)
    if (!p) return null
    return (
      <Card withBorder mt="xs" padding="sm" data-testid={`profile-${p.id}`}>
        <Text size="sm">
          {t('wizard.system')}: <b>{p.system}</b>
        </Text>
        <Text size="sm">
          {t('wizard.version')}: <b>{p.version}</b>
        </Text>
        <Text size="sm">
          {t('wizard.bridge')}: <b>{p.bridge}</b>
        </Text>
        {p.description && (
          <Text size="xs" c="dimmed" mt={4}>
            {p.description}
          </Text>
        )}
      </Card>
    )
  }
  return (
    <Stack maw={760}>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <div>
          <Select
            label={t('wizard.home')}
            placeholder={t('wizard.choose')}
            data={all.filter((p) => p.home).map(option)}
            value={state.home}
            onChange={(home) => onChange({ home })}
            searchable
          />
          {describe(state.home)}
        </div>
        <div>
          <Select
            label={t('wizard.other')}
            placeholder={t('wizard.choose')}
            data={all.filter((p) => p.id !== state.home).map(option)}
            value={state.other}
            onChange={(other) => onChange({ other })}
            searchable
          />
          {describe(state.other)}
        </div>
      </SimpleGrid>
      <TextInput
        label={t('wizard.subject')}
        description={t('wizard.subjectHelp')}
        value={state.subject}
        onChange={(e) => onChange({ subject: e.currentTarget.value })}
      />
    </Stack>
  )
}
