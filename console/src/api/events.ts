import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'

/** What /api/events sends: the kind of event and the ids it concerns. */
interface LiveEvent {
  readonly taskId?: string
  readonly executionId?: number
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
      if (event.taskId) void queryClient.invalidateQueries({ queryKey: ['executions', event.taskId] })
      if (event.taskId && kind !== 'execution.progress') {
        void queryClient.invalidateQueries({ queryKey: ['task', event.taskId] })
        void queryClient.invalidateQueries({ queryKey: ['tasks'] })
      }
      if (event.executionId !== undefined) {
        void queryClient.invalidateQueries({ queryKey: ['execution', event.executionId] })
      }
      if (kind === 'conflict.parked') void queryClient.invalidateQueries({ queryKey: ['conflicts'] })
    }
    const listeners = kinds.map((kind) => [kind, handle(kind)] as const)
    for (const [kind, listener] of listeners) source.addEventListener(kind, listener)
    return () => source.close()
  }, [queryClient])
  return connected
}
