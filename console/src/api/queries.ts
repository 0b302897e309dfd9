import { useQuery } from '@tanstack/react-query'
import { api, unwrap } from './client.ts'

export function useUsers() {
  return useQuery({ queryKey: ['users'], queryFn: async () => unwrap(await api.GET('/api/users')) })
}

export function useTokens() {
  return useQuery({
    queryKey: ['tokens'],
    queryFn: async () => unwrap(await api.GET('/api/tokens')),
  })
}
