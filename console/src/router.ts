import { useLocation, useSearch } from 'wouter'

/** The console's paths, in one place so links and routes cannot drift apart. */
export const paths = {
  overview: '/',
  signIn: '/sign-in',
  setup: '/setup',
  newTask: '/tasks/new',
  task: (id: string) => `/tasks/${encodeURIComponent(id)}`,
  editTask: (id: string, step = 0) => `/tasks/${encodeURIComponent(id)}/edit?step=${step}`,
  execution: (id: string) => `/executions/${encodeURIComponent(id)}`,
  conflicts: '/inbox/conflicts',
  errors: '/inbox/errors',
  audit: '/audit',
  users: '/users',
} as const

/** One query parameter of the current URL. */
export function useQueryParam(name: string): string | null {
  return new URLSearchParams(useSearch()).get(name)
}

export function useNavigate(): (to: string, replace?: boolean) => void {
  const [, navigate] = useLocation()
  return (to, replace) => navigate(to, { replace: replace ?? false })
}
