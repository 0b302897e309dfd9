import { Anchor, Breadcrumbs, Button, Group, Title } from '@mantine/core'
import { IconArrowLeft } from '@tabler/icons-react'
import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { Link } from 'wouter'
import { paths } from '../router.ts'

/** A page's title with Back (the browser's history) and the way to the overview. */
export function PageHeader({
  title,
  crumbs = [],
  actions,
}: {
  title: string
  crumbs?: readonly { label: string; to: string }[]
  actions?: ReactNode
}) {
  const { t } = useTranslation()
  return (
    <Group justify="space-between" mb="md" align="flex-end">
      <div>
        <Group gap="xs" mb={4}>
          <Button
            variant="subtle"
            size="compact-sm"
            leftSection={<IconArrowLeft size={16} aria-hidden />}
            onClick={() => history.back()}
          >
            {t('common.back')}
          </Button>
          <Breadcrumbs>
            <Anchor component={Link} href={paths.overview} size="sm">
              {t('nav.overview')}
            </Anchor>
            {crumbs.map((crumb) => (
              <Anchor key={crumb.to} component={Link} href={crumb.to} size="sm">
                {crumb.label}
              </Anchor>
            ))}
          </Breadcrumbs>
        </Group>
        <Title order={1} size="h2">
          {title}
        </Title>
      </div>
      {actions && <Group>{actions}</Group>}
    </Group>
  )
}
