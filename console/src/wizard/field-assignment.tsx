import {
  ActionIcon,
  Alert,
  Button,
  Code,
  Fieldset,
  Group,
  Select,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from '@mantine/core'
import { IconAdjustmentsHorizontal, IconPlus, IconTrash } from '@tabler/icons-react'
import { Fragment, useState } from 'react'
import { useTranslation } from 'react-i18next'
import {
  choiceTransform,
  type FieldRow,
  FORM_STEPS,
  fieldsOf,
  freeId,
  isUnder,
  mappingPath,
  needsForm,
  rowsOf,
  type Step,
  stepsOf,
  TRANSFORMS,
  type TransformChoice,
  transformChoice,
  transformKey,
  transformOf,
} from './field-rows.ts'
import { type StepContext, TransformSteps } from './transform-steps.tsx'
import { type SystemInput, useDiscovery } from './wizard-api.ts'

/** A problem the server's check found in the document. */
export type Issue = { readonly path: string; readonly message: string }

const EDITED = '\u0000edited'

/**
 * A pair's field assignment: one of the profile's named ones, or edited — rows of (field of
 * A ↔ field of B) picked from the record types' discovered fields, each with an optional
 * transform towards the system the values flow to: a step picked in the row, and below it
 * (when the step needs more, or asked for) every step with its form, and for a pair both
 * ways the transform of the way back. The server's check of the document names what is
 * wrong with a row.
 */
export function FieldAssignment({
  pairId,
  keys,
  types,
  systems,
  fields,
  named,
  target,
  match,
  back,
  pairPath,
  issues,
  onChange,
}: {
  pairId: string
  keys: [string, string]
  /** The record type of each side. */
  types: [string, string]
  systems: [SystemInput | undefined, SystemInput | undefined]
  fields: Record<string, unknown>
  /** The profile's named field assignments. */
  named: Record<string, Record<string, unknown>>
  /** The system the row's transform writes to. */
  target: string
  /** Mapping ids that identify a record on both sides (their ids are kept). */
  match: readonly string[]
  /** For a pair both ways: the other system, whose transform (the way back) is edited too. */
  back?: string
  /** The pair's path in the document (`pairs[0]`), where the check's issues point. */
  pairPath: string
  /** The check's issues of this pair. */
  issues: readonly Issue[]
  onChange: (fields: Record<string, unknown>) => void
}) {
  const { t } = useTranslation()
  const [a, b] = keys
  const rows = rowsOf(fields, a, b)
  const json = JSON.stringify(fields)
  const chosen = Object.keys(named).find((name) => JSON.stringify(named[name]) === json) ?? EDITED
  const discovered = [useDiscovery(systems[0]), useDiscovery(systems[1])]
  const fieldNames = (side: 0 | 1) =>
    discovered[side]!.data?.find((r) => r.name === types[side])?.fields.map((f) => f.name) ?? []
  const set = (next: FieldRow[]) => onChange(fieldsOf(next, a, b))
  const setRow = (index: number, row: FieldRow) => set(rows.map((r, i) => (i === index ? row : r)))
  const tKey = transformKey(target)
  const source = target === a ? b : a
  // Rows whose details were opened or closed by hand; the others show them when needed.
  const [toggled, setToggled] = useState<ReadonlyMap<number, boolean>>(new Map())
  /** The context of a transform towards `to` in a row: its fields on each side, and setters. */
  const stepContext = (index: number, row: FieldRow, to: string): StepContext => {
    const from = to === a ? b : a
    const fieldsOfSide = (key: string) => (key === a ? row.a : row.b)
    const setFields = (key: string) => (fields: string[]) =>
      setRow(index, key === a ? { ...row, a: fields } : { ...row, b: fields })
    return {
      row: index + 1,
      from,
      to,
      sourceFields: fieldsOfSide(from),
      targetFields: fieldsOfSide(to),
      sourceOptions: fieldNames(from === a ? 0 : 1),
      targetOptions: fieldNames(to === a ? 0 : 1),
      setSourceFields: setFields(from),
      setTargetFields: setFields(to),
    }
  }
  const setSteps = (index: number, row: FieldRow, key: string, steps: Step[]) => {
    const { [key]: _, ...rest } = row.transforms
    const transform = transformOf(steps)
    setRow(index, {
      ...row,
      transforms: transform === undefined ? rest : { ...rest, [key]: transform },
    })
  }

  const pickA = (index: number, field: string | null) => {
    const row = rows[index]!
    // A new row, or one named after its field (and not a match key), is named after the new field.
    const rename =
      field !== null && !match.includes(row.id) && (/^new_\d+$/.test(row.id) || row.id === row.a[0])
    setRow(index, {
      ...row,
      id: rename ? freeId(rows, field, row.id) : row.id,
      a: field ? [field] : [],
    })
  }
  const transformLabel = (choice: TransformChoice) => t(`transform.${choice.replace(':', '_')}`)

  return (
    <Stack gap="xs">
      <Select
        label={t('wizard.fields')}
        allowDeselect={false}
        value={chosen}
        onChange={(name) => {
          if (name && name !== EDITED && named[name]) onChange(structuredClone(named[name]))
        }}
        data={[
          ...Object.keys(named).map((name) => ({ value: name, label: name })),
          { value: EDITED, label: t('wizard.edited') },
        ]}
        maw={360}
      />
      {discovered.map((d, side) =>
        d.error ? (
          <Alert key={keys[side]} color="yellow">
            {t('wizard.discoveryFailed', { system: keys[side], message: d.error.message })}
          </Alert>
        ) : null,
      )}
      <Table withTableBorder data-testid={`fields-${pairId}`}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t('wizard.mapping')}</Table.Th>
            <Table.Th>
              {a}.{types[0]}
            </Table.Th>
            <Table.Th aria-hidden />
            <Table.Th>
              {b}.{types[1]}
            </Table.Th>
            <Table.Th>{t('wizard.transform', { system: target })}</Table.Th>
            <Table.Th>
              <VisuallyHidden>{t('wizard.rowActions')}</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row, index) => {
            const n = index + 1
            const fieldPicker = (side: 0 | 1) => {
              const current = side === 0 ? row.a : row.b
              if (current.length > 1) return <Code>{current.join(' + ')}</Code>
              const data = [...new Set([...fieldNames(side), ...current])]
              return (
                <Select
                  aria-label={t('wizard.fieldOf', { system: keys[side], row: n })}
                  placeholder={t('wizard.pickField')}
                  searchable
                  data={data}
                  value={current[0] ?? null}
                  onChange={(field) =>
                    side === 0
                      ? pickA(index, field)
                      : setRow(index, { ...row, b: field ? [field] : [] })
                  }
                  nothingFoundMessage={t('wizard.noFields')}
                />
              )
            }
            const choice = transformChoice(row.transforms[tKey])
            const forward = stepsOf(row.transforms[tKey])
            const backKey = back ? transformKey(back) : undefined
            const backSteps = backKey ? stepsOf(row.transforms[backKey]) : undefined
            const path = mappingPath(pairPath, row.id)
            const rowIssues = issues.filter((i) => isUnder(i.path, path))
            const hasTransform =
              row.transforms[tKey] !== undefined ||
              (backKey !== undefined && row.transforms[backKey] !== undefined)
            const details =
              toggled.get(index) ??
              (forward === undefined ||
                needsForm(forward) ||
                (backKey !== undefined && row.transforms[backKey] !== undefined) ||
                (hasTransform && rowIssues.length > 0))
            const detailsId = `${pairId}-details-${index}`
            return (
              // By position: picking a field may rename the row, and its pickers must keep the focus.
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place
              <Fragment key={index}>
                <Table.Tr data-row={row.id}>
                  <Table.Td>
                    <Code>{row.id}</Code>
                  </Table.Td>
                  <Table.Td>{fieldPicker(0)}</Table.Td>
                  <Table.Td aria-hidden>↔</Table.Td>
                  <Table.Td>{fieldPicker(1)}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Select
                        aria-label={t('wizard.transformOf', { row: n })}
                        allowDeselect={false}
                        value={choice}
                        onChange={(value) => {
                          if (!value || value === 'kept' || value === 'steps') return
                          const { [tKey]: _, ...rest } = row.transforms
                          const transform = choiceTransform(
                            value as Exclude<TransformChoice, 'steps' | 'kept'>,
                          )
                          setRow(index, {
                            ...row,
                            transforms:
                              transform === undefined ? rest : { ...rest, [tKey]: transform },
                          })
                        }}
                        data={[
                          ...(choice === 'kept'
                            ? [
                                {
                                  value: 'kept',
                                  label: t('wizard.transformKept', {
                                    what: JSON.stringify(row.transforms[tKey]),
                                  }),
                                },
                              ]
                            : []),
                          ...(choice === 'steps'
                            ? [
                                {
                                  value: 'steps',
                                  label: t('transform.steps', { count: forward?.length ?? 0 }),
                                },
                              ]
                            : []),
                          ...(Object.keys(TRANSFORMS) as TransformChoice[]).map((value) => ({
                            value,
                            label: transformLabel(value),
                          })),
                          ...FORM_STEPS.map((value) => ({
                            value,
                            label: t(`transform.kind_${value}`),
                          })),
                        ]}
                      />
                      <ActionIcon
                        variant={details ? 'light' : 'subtle'}
                        aria-label={t('transform.details', { row: n })}
                        aria-expanded={details}
                        aria-controls={details ? detailsId : undefined}
                        onClick={() => setToggled(new Map(toggled).set(index, !details))}
                      >
                        <IconAdjustmentsHorizontal size={18} aria-hidden />
                      </ActionIcon>
                    </Group>
                    {rowIssues.length > 0 && !details && (
                      <Text size="xs" c="red.8" mt={4}>
                        {t('transform.problems', { count: rowIssues.length })}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <ActionIcon
                      variant="subtle"
                      color="red"
                      aria-label={t('wizard.removeRow', { row: row.id })}
                      onClick={() => set(rows.filter((_, i) => i !== index))}
                    >
                      <IconTrash size={18} aria-hidden />
                    </ActionIcon>
                  </Table.Td>
                </Table.Tr>
                {details && (
                  <Table.Tr data-details={row.id} id={detailsId}>
                    <Table.Td colSpan={6}>
                      <Stack
                        gap="sm"
                        role="group"
                        aria-label={t('transform.group', { row: n, mapping: row.id })}
                      >
                        <Fieldset legend={t('transform.towards', { system: target, from: source })}>
                          {forward ? (
                            <TransformSteps
                              steps={forward}
                              onChange={(steps) => setSteps(index, row, tKey, steps)}
                              ctx={stepContext(index, row, target)}
                            />
                          ) : (
                            <Code block>{JSON.stringify(row.transforms[tKey])}</Code>
                          )}
                        </Fieldset>
                        {back && backKey && (
                          <Fieldset
                            legend={t('transform.towardsBack', { system: back, from: target })}
                          >
                            {backSteps ? (
                              <TransformSteps
                                steps={backSteps}
                                onChange={(steps) => setSteps(index, row, backKey, steps)}
                                ctx={stepContext(index, row, back)}
                              />
                            ) : (
                              <Code block>{JSON.stringify(row.transforms[backKey])}</Code>
                            )}
                          </Fieldset>
                        )}
                        {rowIssues.map((issue) => (
                          <Text key={`${issue.path}:${issue.message}`} size="sm" c="red.8">
                            {issue.path.slice(path.length).replace(/^\./, '') || row.id}:{' '}
                            {issue.message}
                          </Text>
                        ))}
                      </Stack>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            )
          })}
        </Table.Tbody>
      </Table>
      {rows.length === 0 && (
        <Text c="dimmed" size="sm">
          {t('wizard.noRows')}
        </Text>
      )}
      <Group>
        <Button
          variant="default"
          leftSection={<IconPlus size={18} aria-hidden />}
          onClick={() => {
            let k = rows.length + 1
            while (rows.some((r) => r.id === `new_${k}`)) k++
            set([...rows, { id: `new_${k}`, a: [], b: [], transforms: {} }])
          }}
        >
          {t('wizard.addRow')}
        </Button>
      </Group>
    </Stack>
  )
}
