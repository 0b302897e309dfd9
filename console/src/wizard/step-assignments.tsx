import {
  Badge,
  Card,
  Checkbox,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
} from '@mantine/core'
import { useDebouncedValue } from '@mantine/hooks'
import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { useTranslation } from 'react-i18next'
import { api, unwrap } from '../api/client.ts'
import { FieldAssignment, type Issue } from './field-assignment.tsx'
import { type PairOffer, type StoredSystem, usePairOffers, withStored } from './wizard-api.ts'
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
  stored?: StoredSystem
}
type Pair = Record<string, unknown> & {
  id?: string
  direction?: string
  fields: Record<string, unknown>
  conflict?: { winner: string }
  match?: string[]
}

/**
 * Step 3: the pairs the profiles offer (fixed ones always in), and per chosen pair its
 * direction, a filter per side (checked as you type), the field assignment, the winner.
 */
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
  const offers = usePairOffers(state.home, state.other, keys)
  const offered = offers.data?.items ?? []
  const setPairs = (next: Pair[]) =>
    onChange({ document: { ...document, pairs: next } as TaskDocument })
  const setPair = (index: number, pair: Pair) =>
    setPairs(pairs.map((p, i) => (i === index ? pair : p)))
  const chosen = offered.filter((o) => o.fixed || pairs.some((p) => p.id === o.id)).map((o) => o.id)
  // The server checks the document as the fields are edited (schema, mappings, transforms:
  // an expression's syntax, a map's entries), connecting to nothing.
  const [checked] = useDebouncedValue(document, 400)
  const check = useQuery({
    queryKey: ['validate', checked],
    retry: false,
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(await api.POST('/api/tasks/validate', { body: { document: checked } })),
  })
  const issues: readonly Issue[] = check.data?.issues ?? []
  /** The chosen pairs: a new one with the profile's defaults, in the order they are offered. */
  const choose = (ids: string[]) => {
    const on = new Set([...ids, ...offered.filter((o) => o.fixed).map((o) => o.id)])
    const order = (p: Pair) => {
      const i = offered.findIndex((o) => o.id === p.id)
      return i < 0 ? offered.length : i
    }
    const kept = pairs.filter((p) => on.has(p.id ?? '') || !offered.some((o) => o.id === p.id))
    const added = offered
      .filter((o) => on.has(o.id) && !pairs.some((p) => p.id === o.id))
      .map((o) => structuredClone(o.pair) as Pair)
    setPairs([...kept, ...added].sort((x, y) => order(x) - order(y)))
  }
  return (
    <Stack>
      {offered.length > 0 && (
        <Checkbox.Group
          label={t('wizard.pairsOffered')}
          description={t('wizard.pairsHelp')}
          value={chosen}
          onChange={choose}
        >
          <Stack gap="xs" mt="xs">
            {offered.map((offer) => (
              <Checkbox
                key={offer.id}
                value={offer.id}
                disabled={offer.fixed}
                label={
                  <Group gap="xs">
                    <span>
                      {offer.title} ({offer.home} ↔ {offer.other})
                    </span>
                    {offer.fixed && <Badge variant="light">{t('wizard.fixedPair')}</Badge>}
                  </Group>
                }
                description={offer.description}
              />
            ))}
          </Stack>
        </Checkbox.Group>
      )}
      {pairs.length === 0 && <Text c="dimmed">{t('wizard.choosePair')}</Text>}
      {pairs.map((pair, index) => (
        <PairSection
          key={pair.id ?? index}
          path={`pairs[${index}]`}
          issues={issues.filter((i) => i.path.startsWith(`pairs[${index}]`))}
          taskKeys={keys}
          pair={pair}
          offer={offered.find((o) => o.id === pair.id)}
          systems={withStored(document.systems as Record<string, System>, state.taskId)}
          onChange={(p) => setPair(index, p)}
        />
      ))}
    </Stack>
  )
}

function PairSection({
  path,
  issues,
  taskKeys,
  pair,
  offer,
  systems,
  onChange,
}: {
  /** The pair's path in the document, and the check's issues under it. */
  path: string
  issues: readonly Issue[]
  taskKeys: [string, string]
  pair: Pair
  offer: PairOffer | undefined
  systems: Record<string, System>
  onChange: (pair: Pair) => void
}) {
  const { t } = useTranslation()
  const [a, b] = taskKeys
  const sideA = pair[a] as Side
  const sideB = pair[b] as Side
  const direction = pair.direction ?? 'both'
  const directions = offer?.directions ?? ['both', `${a}->${b}`, `${b}->${a}`]
  const oneWay = directions.filter((d) => d !== 'both')
  const arrow = (d: string) => d.replace('->', ' → ')
  const target = direction === 'both' ? b : (direction.split('->')[1] ?? b)
  const title = offer?.title ?? `${sideA.type} ↔ ${sideB.type}`
  const id = `pair-${pair.id}`
  return (
    <Card withBorder component="section" aria-labelledby={`${id}-title`}>
      <Text fw={700} mb="sm" id={`${id}-title`}>
        {title} ({a}.{sideA.type} ↔ {b}.{sideB.type})
      </Text>
      <Stack>
        <Group align="flex-end">
          <div>
            <Text size="sm" fw={500} mb={4} id={`${id}-dir`}>
              {t('wizard.direction')}
            </Text>
            <SegmentedControl
              aria-labelledby={`${id}-dir`}
              value={direction === 'both' ? 'both' : 'one'}
              onChange={(mode) =>
                onChange({
                  ...pair,
                  direction: mode === 'both' ? 'both' : (oneWay[0] ?? `${a}->${b}`),
                })
              }
              data={[
                {
                  value: 'both',
                  label: t('wizard.bidirectional'),
                  disabled: !directions.includes('both'),
                },
                {
                  value: 'one',
                  label: t('wizard.unidirectional'),
                  disabled: oneWay.length === 0,
                },
              ]}
            />
          </div>
          {direction !== 'both' && (
            <Select
              label={t('wizard.flow')}
              allowDeselect={false}
              value={direction}
              onChange={(d) => onChange({ ...pair, direction: d ?? direction })}
              data={oneWay.map((d) => ({ value: d, label: arrow(d) }))}
            />
          )}
        </Group>
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
        <FieldAssignment
          pairId={pair.id ?? title}
          keys={taskKeys}
          types={[sideA.type, sideB.type]}
          systems={[systems[a], systems[b]]}
          fields={pair.fields}
          named={offer?.fieldAssignments ?? {}}
          target={target}
          {...(direction === 'both' ? { back: a } : {})}
          pairPath={path}
          issues={issues}
          match={pair.match ?? []}
          onChange={(fields) => onChange({ ...pair, fields })}
        />
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
    queryKey: ['filter', system.bridge, system.connection, system.stored, side.type, checked],
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
            ...(system.stored ? { stored: system.stored } : {}),
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
