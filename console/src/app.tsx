import { Center, Loader } from '@mantine/core'
import { useQueryClient } from '@tanstack/react-query'
import { Suspense, useEffect } from 'react'
import { Redirect, Route, Switch, useLocation } from 'wouter'
import { onSignedOut } from './api/client.ts'
import { useSession } from './api/session.ts'
import { Layout } from './components/layout.tsx'
import { lazyPage } from './lazy-page.tsx'
import { OverviewPage } from './pages/overview.tsx'
import { SetupPage } from './pages/setup.tsx'
import { SignInPage } from './pages/sign-in.tsx'
import { paths } from './router.ts'

// Pages past the overview load when first opened: the sign-in page needs none of them.
const AuditPage = lazyPage(() => import('./pages/audit.tsx').then((m) => m.AuditPage))
const ConflictsPage = lazyPage(() => import('./pages/conflicts.tsx').then((m) => m.ConflictsPage))
const ExecutionPage = lazyPage(() => import('./pages/execution.tsx').then((m) => m.ExecutionPage))
const RecordErrorsPage = lazyPage(() =>
  import('./pages/record-errors.tsx').then((m) => m.RecordErrorsPage),
)
const TaskPage = lazyPage(() => import('./pages/task.tsx').then((m) => m.TaskPage))
const UsersPage = lazyPage(() => import('./pages/users.tsx').then((m) => m.UsersPage))
const WizardPage = lazyPage(() => import('./wizard/wizard-page.tsx').then((m) => m.WizardPage))

/** The page an address opens, if it is one that loads when first opened. */
function lazyPageOf(path: string): { preload(): void } | undefined {
  if (path === paths.newTask || /^\/tasks\/[^/]+\/edit$/.test(path)) return WizardPage
  if (path.startsWith('/tasks/')) return TaskPage
  if (path.startsWith('/executions/')) return ExecutionPage
  return (
    {
      [paths.conflicts]: ConflictsPage,
      [paths.errors]: RecordErrorsPage,
      [paths.audit]: AuditPage,
      [paths.users]: UsersPage,
    } as Record<string, { preload(): void }>
  )[path]
}

// Opened straight from its address, the page loads while the session is read.
lazyPageOf(globalThis.location?.pathname ?? '')?.preload()

/** The routes: sign-in and setup without a session, everything else inside the layout. */
export function App() {
  const session = useSession()
  const queryClient = useQueryClient()
  const [location] = useLocation()
  useEffect(() => onSignedOut(() => queryClient.setQueryData(['session'], null)), [queryClient])

  if (location === paths.setup) return <SetupPage />
  if (session.isPending) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    )
  }
  if (!session.data) {
    if (location !== paths.signIn) return <Redirect to={paths.signIn} replace />
    return <SignInPage />
  }
  if (location === paths.signIn) return <Redirect to={paths.overview} replace />
  return (
    <Layout user={session.data}>
      <Suspense fallback={<Loader aria-label="Loading" m="xl" />}>
        <Switch>
          <Route path={paths.overview} component={OverviewPage} />
          <Route path={paths.newTask} component={WizardPage} />
          <Route path="/tasks/:id/edit" component={WizardPage} />
          <Route path="/tasks/:id" component={TaskPage} />
          <Route path="/executions/:id" component={ExecutionPage} />
          <Route path={paths.conflicts} component={ConflictsPage} />
          <Route path={paths.errors} component={RecordErrorsPage} />
          <Route path={paths.audit} component={AuditPage} />
          <Route path={paths.users} component={UsersPage} />
          <Route>
            <Redirect to={paths.overview} replace />
          </Route>
        </Switch>
      </Suspense>
    </Layout>
  )
}
