import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from '../api/client.ts'
import type { Ok } from '../api/types.ts'

/** A system profile with its connection form, as the wizard shows it. */
export type SystemProfile = Ok<'/api/profiles/{id}'>
/** One field of a connection form. */
export type FormField = SystemProfile['form']['fields'][number]

/** The profiles System selection offers (System, Version, ConnectionBridge). */
export function useProfiles() {
  return useQuery({
    queryKey: ['profiles'],
    queryFn: async () => unwrap(await api.GET('/api/profiles')).items,
    staleTime: 60_000,
  })
}

/** One profile with its connection form and the pairs it offers. */
export function useProfile(id: string | null | undefined) {
  return useQuery({
    queryKey: ['profile', id],
    enabled: typeof id === 'string',
    queryFn: async () =>
      unwrap(await api.GET('/api/profiles/{id}', { params: { path: { id: id! } } })),
    staleTime: 60_000,
  })
}
