import { Alert, Button, Card, Group, Select, Stack, Table, Text, TextInput } from '@mantine/core'
import { IconEye } from '@tabler/icons-react'
import { useMutation } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import type { TaskDocument, WizardState } from './wizard-state.ts'

type Plan =
  | { kind: 'manual' }
  | { kind: 'continuous' }
  | { kind: 'interval'; every: number; unit: 'minutes' | 'hours' }
  | { kind: 'daily'; at: string; timezone?: string }

/** The interval values offered for each unit. */
export const INTERVALS = {
  minutes: [1, 2, 5, 10, 15, 20, 30, 45],
  hours: [1, 2, 3, 4, 6, 8, 12, 24],
} as const

const zones = (): string[] => {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf
  return supported ? ['UTC', ...supported('timeZone').filter((z) => z !== 'UTC')] : ['UTC']
}

/** Step 4: the execution plan, and a dry run of the first execution. */
export function StepExecution({
  state,
  onChange,
}: {
  state: WizardState
  onChange: (change: Partial<WizardState>) => void
}) {
  const { t } = useTranslation()
  const plan = ((state.document!.plan as Plan | undefined) ?? { kind: 'manual' }) as Plan
  const preview = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/preview', {
          params: { query: { limit: 10 } },
          body: { document: state.document! },
        }),
      ),
  })
  const setPlan = (next: Plan) =>
    onChange({ document: { ...state.document!, plan: next } as TaskDocument })
  return (
    <Stack maw={760}>
      <Group align="flex-start">
        <Select
          label={t('wizard.plan')}
          allowDeselect={false}
          value={plan.kind}
          onChange={(kind) => {
            if (kind === 'interval') setPlan({ kind, every: 15, unit: 'minutes' })
            else if (kind === 'daily')
              setPlan({
                kind,
                at: '02:00',
                timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
              })
            else setPlan({ kind: kind === 'continuous' ? 'continuous' : 'manual' })
          }}
          data={['continuous', 'interval', 'daily', 'manual'].map((value) => ({
            value,
            label: t(`plan.${value}`),
          }))}
        />
        {plan.kind === 'interval' && (
          <>
            <Select
              label={t('wizard.unit')}
              allowDeselect={false}
              value={plan.unit}
              onChange={(unit) => {
                const u = unit === 'hours' ? 'hours' : 'minutes'
                const values: readonly number[] = INTERVALS[u]
                setPlan({
                  ...plan,
                  unit: u,
                  every: values.includes(plan.every) ? plan.every : values[0]!,
                })
              }}
              data={[
                { value: 'minutes', label: t('wizard.minutes') },
                { value: 'hours', label: t('wizard.hours') },
              ]}
            />
            <Select
              label={t('wizard.interval')}
              allowDeselect={false}
              value={String(plan.every)}
              onChange={(every) => setPlan({ ...plan, every: Number(every) })}
              data={INTERVALS[plan.unit].map((n) => ({
                value: String(n),
                label: t(`plan.every_${plan.unit}`, { count: n }),
              }))}
            />
          </>
        )}
        {plan.kind === 'daily' && (
          <>
            <TextInput
              type="time"
              label={t('wizard.time')}
              value={plan.at}
              onChange={(e) => setPlan({ ...plan, at: e.currentTarget.value })}
            />
            <Select
              label={t('wizard.zone')}
              searchable
              value={plan.timezone ?? 'UTC'}
              onChange={(zone) => setPlan({ ...plan, timezone: zone ?? 'UTC' })}
              data={zones()}
            />
          </>
        )}
      </Group>
      <Group>
        <Button
          variant="default"
          leftSection={<IconEye size={18} aria-hidden />}
          onClick={() => preview.mutate()}
          loading={preview.isPending}
        >
          {t('wizard.preview')}
        </Button>
      </Group>
      {preview.error && <Alert color="red">{preview.error.message}</Alert>}
      {preview.data && (
        <Card withBorder data-testid="preview">
          <Text fw={700} mb="xs">
            {t('wizard.previewTitle')}
          </Text>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('execution.pair')}</Table.Th>
                <Table.Th>{t('execution.direction')}</Table.Th>
                <Table.Th>{t('execution.created')}</Table.Th>
                <Table.Th>{t('execution.updated')}</Table.Th>
                <Table.Th>{t('execution.deleted')}</Table.Th>
                <Table.Th>{t('execution.conflicts')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {Object.entries(preview.data.counts).flatMap(([pair, directions]) =>
                Object.entries(directions).map(([direction, c]) => (
                  <Table.Tr key={`${pair}-${direction}`}>
                    <Table.Td>{pair}</Table.Td>
                    <Table.Td>{direction.replace('->', ' → ')}</Table.Td>
                    <Table.Td>{c.created ?? 0}</Table.Td>
                    <Table.Td>{c.updated ?? 0}</Table.Td>
                    <Table.Td>{c.deleted ?? 0}</Table.Td>
                    <Table.Td>{c.conflicts ?? 0}</Table.Td>
                  </Table.Tr>
                )),
              )}
            </Table.Tbody>
          </Table>
        </Card>
      )}
    </Stack>
  )
}
