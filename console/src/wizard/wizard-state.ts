/** The task document the wizard edits: a TaskFile, or a draft's part of one. */
export type TaskDocument = Record<string, unknown> & {
  subject?: string
  systems?: Record<string, unknown>
  pairs?: unknown[]
  plan?: unknown
}

/** Everything the wizard holds between steps; saved as a draft task at any step. */
export interface WizardState {
  /** The stored draft's id, once saved. */
  readonly taskId?: string
  /** The stored revision (ETag), sent back as If-Match so no edit is lost. */
  readonly revision?: number
  /**
   * False once the stored task is a task (finished): saving it then keeps it one. A new
   * task, or a stored draft, is saved as a draft until Finish.
   */
  readonly draft?: boolean
  readonly subject: string
  readonly home: string | null
  readonly other: string | null
  /** Made from the two profiles on leaving step 1; steps 2 to 4 edit it. */
  readonly document?: TaskDocument
}

export const STEPS = ['systems', 'connection', 'assignments', 'execution'] as const
export type Step = (typeof STEPS)[number]

export const emptyWizard: WizardState = { subject: '', home: null, other: null }

/** The profile a system of a stored document came from (0: home, 1: the other). */
export function profileOf(document: TaskDocument | undefined, index: number): string | null {
  const system = Object.values(document?.systems ?? {})[index] as
    | { profile?: { id?: string } }
    | undefined
  return system?.profile?.id ?? null
}
