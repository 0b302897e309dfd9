import {
  Anchor,
  AppShell,
  Burger,
  Button,
  Group,
  NavLink,
  SegmentedControl,
  Text,
} from '@mantine/core'
import { useDisclosure } from '@mantine/hooks'
import {
  IconAlertTriangle,
  IconArrowsExchange,
  IconHistory,
  IconLayoutList,
  IconUsers,
} from '@tabler/icons-react'
import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { Link, useLocation } from 'wouter'
import { can, type SessionUser, useSignOut } from '../api/session.ts'
import { type Language, setLanguage } from '../i18n.ts'
import { paths } from '../router.ts'
import { ServiceBanner } from './service-banner.tsx'

/** The frame of every signed-in page: header, navigation, the no-service banner. */
export function Layout({ user, children }: { user: SessionUser; children: ReactNode }) {
  const { t, i18n } = useTranslation()
  const [opened, { toggle }] = useDisclosure()
  const [location] = useLocation()
  const signOut = useSignOut()
  const nav = [
    { to: paths.overview, label: t('nav.overview'), icon: IconLayoutList },
    { to: paths.conflicts, label: t('nav.conflicts'), icon: IconArrowsExchange },
    { to: paths.errors, label: t('nav.errors'), icon: IconAlertTriangle },
    { to: paths.audit, label: t('nav.audit'), icon: IconHistory },
    ...(can(user, 'admin') ? [{ to: paths.users, label: t('nav.users'), icon: IconUsers }] : []),
  ]
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={t('nav.menu')}
            />
            <Anchor component={Link} href={paths.overview} fw={700} size="lg" underline="never">
              OpenSync
            </Anchor>
          </Group>
          <Group gap="sm">
            <SegmentedControl
              size="xs"
              aria-label={t('nav.language')}
              value={i18n.language.startsWith('de') ? 'de' : 'en'}
              onChange={(value) => setLanguage(value as Language)}
              data={[
                { value: 'en', label: 'English' },
                { value: 'de', label: 'Deutsch' },
              ]}
            />
            <Text size="sm" c="dimmed">
              {user.username ?? user.token} {user.role ? `· ${t(`roles.${user.role}`)}` : ''}
            </Text>
            <Button variant="subtle" size="xs" onClick={() => signOut.mutate()}>
              {t('nav.signOut')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label={t('nav.main')}>
        {nav.map((item) => (
          <NavLink
            key={item.to}
            component={Link}
            href={item.to}
            label={item.label}
            leftSection={<item.icon size={18} aria-hidden />}
            variant="filled"
            active={
              item.to === '/'
                ? location === '/' || location.startsWith('/tasks')
                : location.startsWith(item.to)
            }
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <ServiceBanner />
        {children}
      </AppShell.Main>
    </AppShell>
  )
}
