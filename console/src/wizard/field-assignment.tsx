import {
  ActionIcon,
  Alert,
  Button,
  Code,
  Group,
  Select,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from '@mantine/core'
import { IconPlus, IconTrash } from '@tabler/icons-react'
import { useTranslation } from 'react-i18next'
import {
  type FieldRow,
  fieldsOf,
  freeId,
  rowsOf,
  TRANSFORMS,
  type TransformChoice,
  transformChoice,
  transformKey,
} from './field-rows.ts'
import { type SystemInput, useDiscovery } from './wizard-api.ts'

const EDITED = '\u0000edited'

/**
 * A pair's field assignment: one of the profile's named ones, or edited — rows of (field of
 * A ↔ field of B) picked from the record types' discovered fields, each with an optional
 * transform towards the system the values flow to.
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
            return (
              // By position: picking a field may rename the row, and its pickers must keep the focus.
              // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place
              <Table.Tr key={index} data-row={row.id}>
                <Table.Td>
                  <Code>{row.id}</Code>
                </Table.Td>
                <Table.Td>{fieldPicker(0)}</Table.Td>
                <Table.Td aria-hidden>↔</Table.Td>
                <Table.Td>{fieldPicker(1)}</Table.Td>
                <Table.Td>
                  <Select
                    aria-label={t('wizard.transformOf', { row: n })}
                    allowDeselect={false}
                    value={choice}
                    onChange={(value) => {
                      const { [tKey]: _, ...rest } = row.transforms
                      const step = TRANSFORMS[(value ?? 'none') as TransformChoice]
                      if (value === 'kept') return
                      setRow(index, {
                        ...row,
                        transforms: step === undefined ? rest : { ...rest, [tKey]: step },
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
                      ...(Object.keys(TRANSFORMS) as TransformChoice[]).map((value) => ({
                        value,
                        label: transformLabel(value),
                      })),
                    ]}
                  />
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
