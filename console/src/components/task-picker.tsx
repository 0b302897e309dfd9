import { Select } from '@mantine/core'
import { useTranslation } from 'react-i18next'
import { useTasks } from '../api/queries.ts'

/** Chooses the task an inbox shows (the inboxes are per task; the URL keeps the choice). */
export function TaskPicker({
  value,
  onChange,
}: {
  value: string | null
  onChange: (id: string | null) => void
}) {
  const { t } = useTranslation()
  const tasks = useTasks()
  return (
    <Select
      label={t('inbox.task')}
      placeholder={t('inbox.chooseTask')}
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
