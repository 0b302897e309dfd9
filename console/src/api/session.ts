import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, setCsrfToken, unwrap } from './client.ts'
import type { components } from './schema.d.ts'

/** The signed-in user as the session route describes it. */
export type SessionUser = components['schemas']['Session']

/** The current session, or null when nobody is signed in. */
export function useSession() {
  return useQuery({
    queryKey: ['session'],
    queryFn: async (): Promise<SessionUser | null> => {
      const result = await api.GET('/api/session')
      if (result.response.status === 401) return null
      const session = unwrap(result)
      setCsrfToken(session.csrfToken)
      return session
    },
    staleTime: Number.POSITIVE_INFINITY,
  })
}

export function useSignIn() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: async (body: { username: string; password: string }) =>
      unwrap(await api.POST('/api/session', { body })),
    onSuccess: (session) => {
      setCsrfToken(session.csrfToken)
      queryClient.setQueryData(['session'], session)
    },
  })
}

export function useSignOut() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: async () => {
      await api.DELETE('/api/session')
    },
    onSettled: () => {
      setCsrfToken(undefined)
      queryClient.clear()
      queryClient.setQueryData(['session'], null)
    },
  })
}

/** Whether the signed-in user may do this (the console hides what the server would refuse). */
export function can(user: SessionUser, permission: 'operate' | 'edit' | 'admin'): boolean {
  return user.permissions.includes(permission)
}
