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

/** What the user's role lets them do in the console (the server checks again). */
export function can(user: SessionUser, permission: 'operate' | 'edit' | 'admin'): boolean {
  const order = ['viewer', 'operator', 'editor', 'admin'] as const
  const need = { operate: 'operator', edit: 'editor', admin: 'admin' } as const
  return order.indexOf(user.role) >= order.indexOf(need[permission])
}
