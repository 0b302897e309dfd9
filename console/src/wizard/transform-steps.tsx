import {
  ActionIcon,
  Button,
  Checkbox,
  Group,
  MultiSelect,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  VisuallyHidden,
} from '@mantine/core'
import { IconPlus, IconTrash } from '@tabler/icons-react'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import {
  CASES,
  constText,
  constValue,
  duplicateValues,
  FORMAT_TYPES,
  type MapEntry,
  mapEntriesOf,
  mapStep,
  newStep,
  type Scalar,
  STEP_KINDS,
  type Step,
  type StepKind,
  scalarText,
  stepKind,
  VALUE_TYPES,
} from './field-rows.ts'

/** Where a transform's steps work: the row, the systems, the row's fields of each side. */
export interface StepContext {
  /** The row's number (1, 2, …), for labels. */
  readonly row: number
  /** The system the values come from, and the one they are written to. */
  readonly from: string
  readonly to: string
  readonly sourceFields: readonly string[]
  readonly targetFields: readonly string[]
  /** The fields discovered on each side, offered by the pickers. */
  readonly sourceOptions: readonly string[]
  readonly targetOptions: readonly string[]
  setSourceFields(fields: string[]): void
  setTargetFields(fields: string[]): void
}

/**
 * The steps of one transform, applied in order: each with its kind and its own small form,
 * removed, or added at the end.
 */
export function TransformSteps({
  steps,
  onChange,
  ctx,
}: {
  steps: readonly Step[]
  onChange: (steps: Step[]) => void
  ctx: StepContext
}) {
  const { t } = useTranslation()
  const set = (index: number, step: Step) => onChange(steps.map((s, i) => (i === index ? step : s)))
  return (
    <Stack gap="sm">
      {steps.map((step, index) => {
        const n = index + 1
        const kind = stepKind(step)!
        return (
          // Steps are edited in place; their position is their identity.
          // biome-ignore lint/suspicious/noArrayIndexKey: see above
          <Group key={index} align="flex-start" wrap="nowrap" data-step={kind}>
            <Select
              label={t('transform.step', { step: n })}
              aria-label={t('transform.stepOf', { step: n, system: ctx.to, row: ctx.row })}
              allowDeselect={false}
              value={kind}
              onChange={(value) => value && set(index, newStep(value as StepKind))}
              data={STEP_KINDS.map((k) => ({ value: k, label: t(`transform.kind_${k}`) }))}
              w={220}
            />
            <div style={{ flex: 1 }}>
              <StepForm step={step} onChange={(s) => set(index, s)} ctx={ctx} />
            </div>
            <ActionIcon
              mt={26}
              variant="subtle"
              color="red"
              aria-label={t('transform.removeStep', { step: n, system: ctx.to, row: ctx.row })}
              onClick={() => onChange(steps.filter((_, i) => i !== index))}
            >
              <IconTrash size={18} aria-hidden />
            </ActionIcon>
          </Group>
        )
      })}
      <Group>
        <Button
          size="xs"
          variant="default"
          leftSection={<IconPlus size={16} aria-hidden />}
          onClick={() => onChange([...steps, newStep('trim')])}
        >
          {t('transform.addStep')}
        </Button>
      </Group>
    </Stack>
  )
}

/** What every step's form is given: the step, where its changes go, and its context. */
interface StepFormProps {
  step: Step
  onChange: (step: Step) => void
  ctx: StepContext
}

/** The form of one step, by its kind. */
function StepForm({ step, onChange, ctx }: StepFormProps) {
  const { t } = useTranslation()
  const labels = { system: ctx.to, row: ctx.row }
  switch (stepKind(step)) {
    case 'map':
      return <MapForm step={step} onChange={onChange} ctx={ctx} />
    case 'const':
      return <ConstForm step={step} onChange={onChange} ctx={ctx} />
    case 'type': {
      const type = String(step.type)
      return (
        <Group align="flex-start">
          <Select
            label={t('transform.type')}
            aria-label={t('transform.typeOf', labels)}
            allowDeselect={false}
            value={type}
            onChange={(value) => {
              if (!value) return
              const { format, ...rest } = step
              onChange({
                ...rest,
                type: value,
                ...(format !== undefined && FORMAT_TYPES.includes(value) ? { format } : {}),
              })
            }}
            data={VALUE_TYPES.map((v) => ({ value: v, label: t(`transform.type_${v}`) }))}
          />
          {FORMAT_TYPES.includes(type) && (
            <TextInput
              label={t('transform.format')}
              aria-label={t('transform.formatOf', labels)}
              description={t('transform.formatHelp')}
              placeholder="DD.MM.YYYY"
              value={typeof step.format === 'string' ? step.format : ''}
              onChange={(e) => {
                const { format: _, ...rest } = step
                const format = e.currentTarget.value
                onChange(format === '' ? rest : { ...rest, format })
              }}
            />
          )}
        </Group>
      )
    }
    case 'trim':
      return (
        <Text size="sm" c="dimmed" mt={30}>
          {t('transform.trimHelp')}
        </Text>
      )
    case 'case':
      return (
        <Select
          label={t('transform.case')}
          aria-label={t('transform.caseOf', labels)}
          allowDeselect={false}
          value={String(step.case)}
          onChange={(value) => value && onChange({ case: value })}
          data={CASES.map((c) => ({ value: c, label: t(`transform.case_${c}`) }))}
          maw={220}
        />
      )
    case 'concat':
    case 'split': {
      const kind = stepKind(step) as 'concat' | 'split'
      const separator = String((step[kind] as { separator: string }).separator)
      // concat joins fields of the side read; split fills fields of the side written.
      const concat = kind === 'concat'
      const fields = concat ? ctx.sourceFields : ctx.targetFields
      const options = concat ? ctx.sourceOptions : ctx.targetOptions
      const system = concat ? ctx.from : ctx.to
      const picker = (
        <MultiSelect
          label={t(concat ? 'transform.concatFields' : 'transform.splitFields', { system })}
          aria-label={t(concat ? 'transform.concatFieldsOf' : 'transform.splitFieldsOf', {
            system,
            row: ctx.row,
          })}
          searchable
          data={[...new Set([...options, ...fields])]}
          value={[...fields]}
          onChange={(next) => (concat ? ctx.setSourceFields(next) : ctx.setTargetFields(next))}
          miw={260}
        />
      )
      const input = (
        <TextInput
          label={t('transform.separator')}
          aria-label={t('transform.separatorOf', labels)}
          value={separator}
          onChange={(e) => onChange({ [kind]: { separator: e.currentTarget.value } })}
          w={120}
        />
      )
      return (
        <Group align="flex-start">
          {concat ? picker : input}
          {concat ? input : picker}
        </Group>
      )
    }
    case 'expr':
      return (
        <TextInput
          label={t('transform.expr')}
          aria-label={t('transform.exprOf', labels)}
          description={t('transform.exprHelp')}
          placeholder="$uppercase($)"
          value={String(step.expr)}
          onChange={(e) => onChange({ expr: e.currentTarget.value })}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />
      )
    default:
      return null
  }
}

/**
 * A `map`: a table of values and what each becomes, rows added and removed, and what other
 * values become. The rows are kept here while typed (a value typed twice, or not yet, would
 * vanish from the step) and written to the step as they change.
 */
function MapForm({ step, onChange, ctx }: StepFormProps) {
  const { t } = useTranslation()
  const rowsOf = (s: Step): MapEntry[] => {
    const entries = mapEntriesOf(s)
    return entries.length > 0 ? entries : [{ from: '', to: '' }]
  }
  const [entries, setEntries] = useState(() => rowsOf(step))
  const [shown, setShown] = useState(() => JSON.stringify(step))
  const fallback = step.default as Scalar | undefined
  // Changed elsewhere (another field assignment chosen, a step replaced): start from it.
  if (shown !== JSON.stringify(step)) {
    setEntries(rowsOf(step))
    setShown(JSON.stringify(step))
  }
  const write = (next: MapEntry[], nextDefault: Scalar | undefined = fallback) => {
    const written = mapStep(next, nextDefault)
    setEntries(next)
    setShown(JSON.stringify(written))
    onChange(written)
  }
  const twice = duplicateValues(entries)
  const labels = (entry: number) => ({ system: ctx.from, to: ctx.to, row: ctx.row, entry })
  return (
    <Stack gap={6}>
      <Table withTableBorder verticalSpacing={4} maw={620}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('transform.mapFrom', { system: ctx.from })}</Table.Th>
            <Table.Th>{t('transform.mapTo', { system: ctx.to })}</Table.Th>
            <Table.Th>
              <VisuallyHidden>{t('wizard.rowActions')}</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((entry, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: entries are edited in place
            <Table.Tr key={index}>
              <Table.Td>
                <TextInput
                  aria-label={t('transform.mapFromOf', labels(index + 1))}
                  size="xs"
                  value={entry.from}
                  onChange={(e) =>
                    write(
                      entries.map((x, i) =>
                        i === index ? { ...x, from: e.currentTarget.value } : x,
                      ),
                    )
                  }
                />
              </Table.Td>
              <Table.Td>
                <TextInput
                  aria-label={t('transform.mapToOf', labels(index + 1))}
                  size="xs"
                  placeholder={entry.to === null ? 'null' : undefined}
                  value={scalarText(entry.to)}
                  onChange={(e) =>
                    write(
                      entries.map((x, i) =>
                        i === index ? { ...x, to: e.currentTarget.value } : x,
                      ),
                    )
                  }
                />
              </Table.Td>
              <Table.Td w={40}>
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={t('transform.removeValue', labels(index + 1))}
                  onClick={() => write(entries.filter((_, i) => i !== index))}
                >
                  <IconTrash size={16} aria-hidden />
                </ActionIcon>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {twice.length > 0 && (
        <Text size="sm" c="orange.9">
          {t('transform.twice', { list: twice.join(', ') })}
        </Text>
      )}
      <Group align="flex-end">
        <Button
          size="xs"
          variant="default"
          leftSection={<IconPlus size={16} aria-hidden />}
          onClick={() => setEntries([...entries, { from: '', to: '' }])}
        >
          {t('transform.addValue')}
        </Button>
        <TextInput
          label={t('transform.mapDefault')}
          aria-label={t('transform.mapDefaultOf', labels(0))}
          description={t('transform.mapDefaultHelp')}
          size="xs"
          value={scalarText(fallback)}
          placeholder={fallback === null ? 'null' : undefined}
          onChange={(e) =>
            write(entries, e.currentTarget.value === '' ? undefined : e.currentTarget.value)
          }
        />
      </Group>
    </Stack>
  )
}

/** A `const`: the value written, as text, or as JSON for a number, true/false, a list, … */
function ConstForm({ step, onChange, ctx }: StepFormProps) {
  const { t } = useTranslation()
  const [form, setForm] = useState(() => constText(step.const))
  const [shown, setShown] = useState(() => JSON.stringify(step.const))
  if (shown !== JSON.stringify(step.const)) {
    setForm(constText(step.const))
    setShown(JSON.stringify(step.const))
  }
  const parsed = constValue(form.text, form.json)
  const edit = (next: { text: string; json: boolean }) => {
    setForm(next)
    const value = constValue(next.text, next.json)
    if ('value' in value) {
      setShown(JSON.stringify(value.value))
      onChange({ const: value.value })
    }
  }
  return (
    <Group align="flex-start">
      <TextInput
        label={t('transform.constValue')}
        aria-label={t('transform.constValueOf', { system: ctx.to, row: ctx.row })}
        value={form.text}
        onChange={(e) => edit({ ...form, text: e.currentTarget.value })}
        error={
          'error' in parsed ? t('transform.constInvalid', { message: parsed.error }) : undefined
        }
        miw={260}
      />
      <Checkbox
        mt={30}
        label={t('transform.constJson')}
        checked={form.json}
        onChange={(e) => edit({ ...form, json: e.currentTarget.checked })}
      />
    </Group>
  )
}
