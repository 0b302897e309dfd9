import { Center, Loader } from '@mantine/core'
import { useQueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import { Redirect, Route, Switch, useLocation } from 'wouter'
import { onSignedOut } from './api/client.ts'
import { useSession } from './api/session.ts'
import { Layout } from './components/layout.tsx'
import { AuditPage } from './pages/audit.tsx'
import { ConflictsPage } from './pages/conflicts.tsx'
import { ExecutionPage } from './pages/execution.tsx'
import { OverviewPage } from './pages/overview.tsx'
import { RecordErrorsPage } from './pages/record-errors.tsx'
import { SetupPage } from './pages/setup.tsx'
import { SignInPage } from './pages/sign-in.tsx'
import { TaskPage } from './pages/task.tsx'
import { UsersPage } from './pages/users.tsx'
import { paths } from './router.ts'
import { WizardPage } from './wizard/wizard-page.tsx'

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
    </Layout>
  )
}
