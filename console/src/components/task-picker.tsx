import { Select } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { useTasks } from '../api/queries.ts'

/**
 * Chooses the task an inbox shows (the URL keeps the choice). `all`: the inbox shows every
 * task without one, so the choice can be cleared and the placeholder says so.
 */
export function TaskPicker({
  value,
  onChange,
  all,
}: {
  value: string | null
  onChange: (id: string | null) => void
  all?: string
}) {
  const { t } = useTranslation()
  const tasks = useTasks()
  return (
    <Select
      label={t('inbox.task')}
      placeholder={all ?? t('inbox.chooseTask')}
      clearable={all !== undefined}
      searchable
      value={value}
      onChange={onChange}
      data={(tasks.data ?? [])
        .filter((task) => !task.draft)
        .map((task) => ({ value: task.id, label: task.subject }))}
      maw={420}
    />
  )
}
