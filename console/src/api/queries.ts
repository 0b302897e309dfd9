import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query'
import { api, unwrap } from './client.ts'
import type { Ok } from './types.ts'

/** One row of the task overview. */
export type TaskSummary = Ok<'/api/tasks'>['items'][number]
export type TaskDetail = Ok<'/api/tasks/{id}'>
export type Execution = Ok<'/api/executions'>['items'][number]

/** The overview's list of tasks, as `useTasks` keeps it. */
type TaskSummaries = Awaited<ReturnType<typeof fetchTasks>>

async function fetchTasks() {
  return unwrap(await api.GET('/api/tasks', {})).items
}

export function useTasks() {
  return useQuery({
    queryKey: ['tasks'],
    queryFn: fetchTasks,
  })
}

export function useTask(id: string | undefined) {
  return useQuery({
    queryKey: ['task', id],
    enabled: id !== undefined,
    queryFn: async () =>
      unwrap(await api.GET('/api/tasks/{id}', { params: { path: { id: id! } } })),
  })
}

/**
 * A task's executions, newest first, 50 a page: `fetchNextPage` follows the API's cursor to
 * older ones. A refetch (live events, Refresh) reads again the pages loaded so far.
 */
export function useExecutions(taskId: string) {
  return useInfiniteQuery({
    queryKey: ['executions', taskId],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/api/executions', {
          params: {
            query: { task: taskId, limit: 50, ...(pageParam ? { cursor: pageParam } : {}) },
          },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
  })
}

export function useExecution(id: number) {
  return useQuery({
    queryKey: ['execution', id],
    queryFn: async () =>
      unwrap(await api.GET('/api/executions/{id}', { params: { path: { id } } })),
  })
}

export function useExecutionLines(id: number) {
  return useQuery({
    queryKey: ['execution', id, 'lines'],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/executions/{id}/lines', {
          params: { path: { id }, query: { limit: 500 } },
        }),
      ),
  })
}

export function useExecutionChanges(id: number, key: string) {
  return useQuery({
    queryKey: ['execution', id, 'changes', key],
    queryFn: async () =>
      unwrap(
        await api.GET('/api/executions/{id}/changes', {
          params: { path: { id }, query: { limit: 200, ...(key ? { key } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  })
}

export function useConflicts(taskId: string | null) {
  return useQuery({
    queryKey: ['conflicts', taskId],
    enabled: taskId !== null,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/tasks/{taskId}/conflicts', { params: { path: { taskId: taskId! } } }),
      ),
  })
}

/** The open conflicts of every task the user may see, by task. */
export function useAllConflicts(enabled: boolean) {
  return useQuery({
    queryKey: ['conflicts', { all: true }],
    enabled,
    queryFn: async () => unwrap(await api.GET('/api/conflicts', { params: { query: {} } })),
  })
}

export function useRecordErrors(taskId: string | null) {
  return useQuery({
    queryKey: ['record-errors', taskId],
    enabled: taskId !== null,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/tasks/{taskId}/record-errors', {
          params: { path: { taskId: taskId! } },
        }),
      ),
  })
}

/**
 * The failed records of every task the user may see, newest first (by when they first
 * failed), 50 a page: `fetchNextPage` follows the API's cursor.
 */
export function useAllRecordErrors(enabled: boolean) {
  return useInfiniteQuery({
    queryKey: ['record-errors', { all: true }],
    enabled,
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) =>
      unwrap(
        await api.GET('/api/record-errors', {
          params: { query: { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => last.nextCursor,
  })
}

/**
 * Audit events, newest first, 100 a page: of one task, or of every task. An administrator
 * reads the whole trail (sign-ins, users and tokens too); others the events of the tasks
 * they may see.
 */
export function useAudit(taskId: string | null, admin: boolean) {
  return useInfiniteQuery({
    queryKey: ['audit', taskId, admin],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const query = {
        limit: 100,
        ...(taskId ? { task: taskId } : {}),
        ...(pageParam ? { cursor: pageParam } : {}),
      }
      return unwrap(
        admin
          ? await api.GET('/api/audit', { params: { query } })
          : await api.GET('/api/audit/tasks', { params: { query } }),
      )
    },
    getNextPageParam: (last) => last.nextCursor,
  })
}

export function useUsers() {
  return useQuery({ queryKey: ['users'], queryFn: async () => unwrap(await api.GET('/api/users')) })
}

export function useTokens() {
  return useQuery({
    queryKey: ['tokens'],
    queryFn: async () => unwrap(await api.GET('/api/tokens')),
  })
}

/** Task actions of the detail page; each refreshes what it changes. */
export function useTaskActions(id: string) {
  const queryClient = useQueryClient()
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: ['task', id] }),
      queryClient.invalidateQueries({ queryKey: ['tasks'] }),
      queryClient.invalidateQueries({ queryKey: ['executions', id] }),
    ])
  const path = { params: { path: { id } } }
  return {
    activate: useMutation({
      mutationFn: async (active: boolean) =>
        unwrap(
          active
            ? await api.POST('/api/tasks/{id}/activate', path)
            : await api.POST('/api/tasks/{id}/deactivate', path),
        ),
      onSuccess: refresh,
    }),
    start: useMutation({
      mutationFn: async () => unwrap(await api.POST('/api/tasks/{id}/executions', path)),
      onSuccess: refresh,
    }),
    remove: useMutation({
      mutationFn: async () => unwrap(await api.DELETE('/api/tasks/{id}', path)),
      onSuccess: () => {
        // Gone from the kept list at once: the overview the page goes to next must not show
        // the deleted task until its refetch answers.
        queryClient.setQueryData<TaskSummaries>(['tasks'], (tasks) =>
          tasks?.filter((task) => task.id !== id),
        )
        return queryClient.invalidateQueries({ queryKey: ['tasks'] })
      },
    }),
  }
}
