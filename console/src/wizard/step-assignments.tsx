import {
  Card,
  Code,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { useQuery } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import type { TaskDocument, WizardState } from './wizard-state.ts'

type Filter =
  | { sql: string; parameters?: Record<string, unknown> }
  | { keyValue: Record<string, unknown> }
type Side = { type: string; filter?: Filter; cursor?: string }
/** A system of the document, as the server's filter check wants it. */
type System = {
  bridge: string
  connection?: Record<string, string | number | boolean>
  settings?: Record<string, unknown>
}
type Pair = Record<string, unknown> & {
  id?: string
  direction?: string
  fields: Record<string, unknown>
  conflict?: { winner: string }
}

/** Step 3: per pair the direction, a filter per side (checked as you type), the fields, the winner. */
export function StepAssignments({
  state,
  onChange,
}: {
  state: WizardState
  onChange: (change: Partial<WizardState>) => void
}) {
  const { t } = useTranslation()
  const document = state.document!
  const keys = Object.keys(document.systems ?? {}) as [string, string]
  const pairs = (document.pairs ?? []) as Pair[]
  const setPair = (index: number, pair: Pair) =>
    onChange({
      document: {
        ...document,
        pairs: pairs.map((p, i) => (i === index ? pair : p)),
      } as TaskDocument,
    })
  if (pairs.length === 0) return <Text c="dimmed">{t('wizard.noPairs')}</Text>
  return (
    <Stack>
      {pairs.map((pair, index) => (
        <PairSection
          key={pair.id ?? index}
          taskKeys={keys}
          pair={pair}
          systems={document.systems as Record<string, System>}
          onChange={(p) => setPair(index, p)}
        />
      ))}
    </Stack>
  )
}

function PairSection({
  taskKeys,
  pair,
  systems,
  onChange,
}: {
  taskKeys: [string, string]
  pair: Pair
  systems: Record<string, System>
  onChange: (pair: Pair) => void
}) {
  const { t } = useTranslation()
  const [a, b] = taskKeys
  const sideA = pair[a] as Side
  const sideB = pair[b] as Side
  const direction = pair.direction ?? 'both'
  return (
    <Card withBorder component="section" aria-label={`${sideA.type} ↔ ${sideB.type}`}>
      <Text fw={700} mb="sm">
        {sideA.type} ↔ {sideB.type}
      </Text>
      <Stack>
        <div>
          <Text size="sm" fw={500} mb={4} id={`dir-${pair.id}`}>
            {t('wizard.direction')}
          </Text>
          <SegmentedControl
            aria-labelledby={`dir-${pair.id}`}
            value={direction}
            onChange={(value) => onChange({ ...pair, direction: value })}
            data={[
              { value: 'both', label: t('wizard.bidirectional') },
              { value: `${a}->${b}`, label: `${a} → ${b}` },
              { value: `${b}->${a}`, label: `${b} → ${a}` },
            ]}
          />
        </div>
        <Group grow align="flex-start">
          {[a, b].map((key) => (
            <FilterInput
              key={key}
              systemKey={key}
              system={systems[key]!}
              side={pair[key] as Side}
              onChange={(side) => onChange({ ...pair, [key]: side })}
            />
          ))}
        </Group>
        <div>
          <Text size="sm" fw={500} mb={4}>
            {t('wizard.fields')}
          </Text>
          <Table withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('wizard.mapping')}</Table.Th>
                <Table.Th>{a}</Table.Th>
                <Table.Th>{b}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {Object.entries(pair.fields).map(([name, mapping]) => {
                const long =
                  typeof mapping === 'object' && mapping !== null
                    ? (mapping as Record<string, unknown>)
                    : undefined
                const show = (v: unknown) => (Array.isArray(v) ? v.join(' + ') : String(v ?? ''))
                return (
                  <Table.Tr key={name}>
                    <Table.Td>
                      <Code>{name}</Code>
                    </Table.Td>
                    <Table.Td>{long ? show(long[a]) : name}</Table.Td>
                    <Table.Td>{long ? show(long[b]) : String(mapping)}</Table.Td>
                  </Table.Tr>
                )
              })}
            </Table.Tbody>
          </Table>
        </div>
        <Select
          label={t('wizard.strategy')}
          description={t('wizard.strategyHelp')}
          allowDeselect={false}
          value={pair.conflict?.winner ?? a}
          onChange={(winner) => onChange({ ...pair, conflict: { winner: winner ?? a } })}
          data={[
            { value: a, label: t('wizard.wins', { system: a }) },
            { value: b, label: t('wizard.wins', { system: b }) },
            { value: 'newest', label: t('wizard.newest') },
            { value: 'manual', label: t('wizard.manual') },
          ]}
          maw={360}
        />
      </Stack>
    </Card>
  )
}

/** A side's filter: SQL WHERE condition or key-value, checked by the server as you type. */
function FilterInput({
  systemKey,
  system,
  side,
  onChange,
}: {
  systemKey: string
  system: System
  side: Side
  onChange: (side: Side) => void
}) {
  const { t } = useTranslation()
  const kind = side.filter && 'keyValue' in side.filter ? 'keyValue' : 'sql'
  const text =
    side.filter === undefined
      ? ''
      : 'keyValue' in side.filter
        ? Object.entries(side.filter.keyValue)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(', ')
        : side.filter.sql
  const [checked] = useDebouncedValue(side.filter, 300)
  const check = useQuery({
    queryKey: ['filter', system.bridge, system.connection, side.type, checked],
    enabled: checked !== undefined,
    retry: false,
    queryFn: async () =>
      unwrap(
        await api.POST('/api/connections/filter', {
          body: {
            system: {
              bridge: system.bridge,
              connection: system.connection ?? {},
              ...(system.settings ? { settings: system.settings } : {}),
            },
            recordType: side.type,
            filter: checked as Filter & { keyValue: Record<string, string> },
          },
        }),
      ),
  })
  const error = check.data && !check.data.valid ? check.data.message : check.error?.message
  const setText = (value: string, as = kind) => {
    const { filter: _, ...rest } = side
    if (value.trim() === '') return onChange(rest)
    if (as === 'sql') return onChange({ ...rest, filter: { sql: value } })
    const keyValue = Object.fromEntries(
      value
        .split(',')
        .map((part) => part.split('=').map((s) => s.trim()))
        .filter(([k]) => k)
        .map(([k, v]) => [k, v ?? '']),
    )
    onChange({ ...rest, filter: { keyValue } })
  }
  return (
    <Stack gap={4}>
      <Select
        label={t('wizard.filterType', { system: systemKey })}
        allowDeselect={false}
        value={kind}
        onChange={(value) => setText(text, value === 'keyValue' ? 'keyValue' : 'sql')}
        data={[
          { value: 'sql', label: t('wizard.filterSql') },
          { value: 'keyValue', label: t('wizard.filterKeyValue') },
        ]}
      />
      <TextInput
        label={t('wizard.filter', { system: systemKey, type: side.type })}
        placeholder={kind === 'sql' ? "zip1 = '76137'" : 'country=DE'}
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        error={side.filter ? error : undefined}
        description={side.filter && check.data?.valid ? t('wizard.filterOk') : undefined}
        data-testid={`filter-${systemKey}`}
      />
    </Stack>
  )
}
