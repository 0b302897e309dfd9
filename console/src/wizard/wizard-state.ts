import type { Body } from '../api/types.ts'

/** The task document as the API takes it (the task-file schema, through OpenAPI). */
export type TaskDocument = Body<'/api/tasks'>['document']

/** Everything the wizard holds between steps; saved as a draft task at any step. */
export interface WizardState {
  /** The stored draft's id, once saved. */
  readonly taskId?: string
  /** The stored revision (ETag), sent back as If-Match so no edit is lost. */
  readonly revision?: string
  readonly subject: string
  readonly home: string | null
  readonly other: string | null
  /** Built from the two profiles on leaving step 1; steps 2 to 4 edit it. */
  readonly document?: TaskDocument
}

export const STEPS = ['systems', 'connection', 'assignments', 'execution'] as const
export type Step = (typeof STEPS)[number]

export const emptyWizard: WizardState = { subject: '', home: null, other: null }

/** The profile a system of a stored document came from. */
export function profileOf(document: TaskDocument | undefined, index: number): string | null {
  const system = Object.values(document?.systems ?? {})[index] as { profile?: { id?: string } } | undefined
  return system?.profile?.id ?? null
}
