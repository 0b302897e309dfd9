import { useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'

/** What /api/events sends: the kind of event, the ids it concerns, progress counts. */
interface LiveEvent {
  readonly taskId?: string
  readonly executionId?: number
  readonly pairId?: string
  readonly counts?: Record<string, number>
}

/** The latest progress of a running execution, as the last progress event told it. */
export interface Progress {
  readonly pairId: string
  readonly counts: { read: number; created: number; updated: number; deleted: number }
}

/** The progress of an execution, kept current by useLiveUpdates. */
export function useProgress(executionId: number): Progress | undefined {
  return (
    useQuery<Progress | null>({
      queryKey: ['progress', executionId],
      queryFn: () => null,
      staleTime: Number.POSITIVE_INFINITY,
    }).data ?? undefined
  )
}

const kinds = [
  'execution.queued',
  'execution.started',
  'execution.progress',
  'execution.ended',
  'task.changed',
  'conflict.parked',
] as const

/**
 * Keeps the cached queries current from the server's event stream: an execution's event
 * refreshes its task's executions, the execution itself and the overview. EventSource
 * reconnects by itself and sends Last-Event-ID, so a dropped connection misses nothing.
 * Returns whether the stream is connected.
 */
export function useLiveUpdates(): boolean {
  const queryClient = useQueryClient()
  const [connected, setConnected] = useState(false)
  useEffect(() => {
    const source = new EventSource('/api/events', { withCredentials: true })
    source.onopen = () => setConnected(true)
    source.onerror = () => setConnected(false)
    const handle = (kind: string) => (message: MessageEvent<string>) => {
      let event: LiveEvent = {}
      try {
        event = JSON.parse(message.data) as LiveEvent
      } catch {
        return
      }
      if (kind === 'execution.progress' && event.executionId !== undefined && event.counts) {
        // Progress goes straight to the page: no request, so it shows as soon as it arrives.
        queryClient.setQueryData(['progress', event.executionId], {
          pairId: event.pairId,
          counts: event.counts,
        })
        return
      }
      if (event.taskId)
        void queryClient.invalidateQueries({ queryKey: ['executions', event.taskId] })
      if (event.taskId) {
        void queryClient.invalidateQueries({ queryKey: ['task', event.taskId] })
        void queryClient.invalidateQueries({ queryKey: ['tasks'] })
      }
      if (event.executionId !== undefined) {
        void queryClient.invalidateQueries({ queryKey: ['execution', event.executionId] })
      }
      if (kind === 'conflict.parked')
        void queryClient.invalidateQueries({ queryKey: ['conflicts'] })
    }
    const listeners = kinds.map((kind) => [kind, handle(kind)] as const)
    for (const [kind, listener] of listeners) source.addEventListener(kind, listener)
    return () => source.close()
  }, [queryClient])
  return connected
}
