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

/** The pairs the two profiles offer, in the document's system keys (step 3 chooses from them). */
export type PairOffer = Ok<'/api/profiles/pairs', 'post'>['items'][number]

export function usePairOffers(
  home: string | null,
  other: string | null,
  keys: readonly string[] | undefined,
) {
  return useQuery({
    queryKey: ['pair-offers', home, other, keys],
    enabled: typeof home === 'string' && typeof other === 'string' && keys?.length === 2,
    staleTime: 60_000,
    queryFn: async () =>
      unwrap(
        await api.POST('/api/profiles/pairs', {
          body: { home: home!, other: other!, keys: { home: keys![0], other: keys![1] } },
        }),
      ),
  })
}

/** A system of the task document, as the connection routes take it. */
export type SystemInput = {
  bridge: string
  connection?: Record<string, string | number | boolean>
  settings?: Record<string, unknown>
  /** The stored task and system the values came from: a masked secret is the stored one. */
  stored?: StoredSystem
}

/** A stored task's system, by task id and system key. */
export type StoredSystem = { task: string; system: string }

/**
 * The systems of the document, each with its stored task and key once the task is stored:
 * the server then takes the stored secret wherever a value is the placeholder `********`.
 */
export function withStored<S extends object>(
  systems: Record<string, S>,
  taskId: string | undefined,
): Record<string, S & { stored?: StoredSystem }> {
  if (!taskId) return systems
  return Object.fromEntries(
    Object.entries(systems).map(([key, s]) => [
      key,
      { ...s, stored: { task: taskId, system: key } },
    ]),
  )
}

/** The record types and their fields of a system, discovered from the values entered. */
export function useDiscovery(system: SystemInput | undefined) {
  return useQuery({
    queryKey: ['discover', system?.bridge, system?.connection, system?.settings, system?.stored],
    enabled: system !== undefined,
    retry: false,
    staleTime: 60_000,
    queryFn: async () =>
      unwrap(
        await api.POST('/api/connections/discover', {
          body: {
            system: {
              bridge: system!.bridge,
              connection: system!.connection ?? {},
              ...(system!.settings ? { settings: system!.settings } : {}),
            },
            ...(system!.stored ? { stored: system!.stored } : {}),
          },
        }),
      ).items,
  })
}
