import { Center, Loader } from '@mantine/core'
import { useQueryClient } from '@tanstack/react-query'
import { lazy, Suspense, useEffect } from 'react'
import { Redirect, Route, Switch, useLocation } from 'wouter'
import { onSignedOut } from './api/client.ts'
import { useSession } from './api/session.ts'
import { Layout } from './components/layout.tsx'
import { OverviewPage } from './pages/overview.tsx'
import { SetupPage } from './pages/setup.tsx'
import { SignInPage } from './pages/sign-in.tsx'
import { paths } from './router.ts'

// Pages past the overview load when first opened: the sign-in page needs none of them.
const AuditPage = lazy(() => import('./pages/audit.tsx').then((m) => ({ default: m.AuditPage })))
const ConflictsPage = lazy(() =>
  import('./pages/conflicts.tsx').then((m) => ({ default: m.ConflictsPage })),
)
const ExecutionPage = lazy(() =>
  import('./pages/execution.tsx').then((m) => ({ default: m.ExecutionPage })),
)
const RecordErrorsPage = lazy(() =>
  import('./pages/record-errors.tsx').then((m) => ({ default: m.RecordErrorsPage })),
)
const TaskPage = lazy(() => import('./pages/task.tsx').then((m) => ({ default: m.TaskPage })))
const UsersPage = lazy(() => import('./pages/users.tsx').then((m) => ({ default: m.UsersPage })))
const WizardPage = lazy(() =>
  import('./wizard/wizard-page.tsx').then((m) => ({ default: m.WizardPage })),
)

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
