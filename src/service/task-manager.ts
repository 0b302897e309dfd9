import { parseDocument } from 'yaml'
import { checkTaskOffline } from '../engine/check-task.ts'
import {
  compileTask,
  type Env,
  type ExecutionPlan,
  type ResolvedTask,
  slugify,
  substituteEnv,
  type TaskFile,
  type TaskIssue,
  validateTaskFile,
  yamlProblem,
} from '../engine/task/index.ts'
import { type BridgeRegistry, isOpenSyncError, OpenSyncError } from '../sdk/index.ts'
import type { Store, StoredTask } from '../store/index.ts'
import type { EventHub } from './event-hub.ts'
import { PAUSE_MARK } from './notifications.ts'
import { maskTask, mergeSecrets, openTask, type SecretBox, sealTask } from './secrets.ts'

/** A stored task as the CLI and API show it: secrets masked. */
export interface TaskView {
  readonly id: string
  readonly subject: string
  readonly draft: boolean
  readonly active: boolean
  /** Problems that keep a draft from being complete. */
  readonly issues: readonly TaskIssue[]
  readonly plan?: ExecutionPlan
  readonly nextRunAt?: string
  readonly revision: number
  readonly createdAt: string
  readonly updatedAt: string
  readonly document: unknown
  /** Only from `get`: the plan paused itself after failed runs (see `notify:`), and why. */
  readonly paused?: PauseNote
}

/** A task in an overview: its view without the document, and the profiles it was made from. */
export interface TaskSummary extends Omit<TaskView, 'document' | 'paused'> {
  /** The ids of the system profiles its systems were made from (`systems.<key>.profile.id`). */
  readonly profiles: readonly string[]
  /** Its systems by key, with their bridge and profile (`systems.<key>`), in document order. */
  readonly systems: readonly TaskSystem[]
}

/** One system of a task, as the overview names it. */
export interface TaskSystem {
  readonly key: string
  readonly bridge?: string
  readonly profile?: string
}

/** Why and when a plan paused itself. */
export interface PauseNote {
  readonly reason: string
  readonly at: string
  /** The failed run that paused it. */
  readonly executionId: number
}

/** What {@link TaskManager.start} queued. */
export interface QueuedRun {
  /** The queued execution: a new one, or the one that was queued already. */
  readonly executionId: number
  /** False when a run was queued already: it runs once. */
  readonly created: boolean
  /** The execution running now, which the queued one waits for. */
  readonly runningId?: number
}

/** Options of {@link TaskManager.save}. */
export interface SaveOptions {
  /**
   * Store the document as a draft, complete or not: never scheduled, started or run until
   * it is saved again without `draft`. Without it an incomplete document is refused.
   */
  readonly draft?: boolean
  /** Refuse the save when the stored task has another revision (someone else edited it). */
  readonly expectedRevision?: number
}

/**
 * Stored tasks: save (complete or as a draft), read with secrets masked, activate,
 * deactivate, delete with all metadata, and resolve for running. Documents are stored as
 * written — `${VAR}` references stay references — with secret values encrypted.
 */
export class TaskManager {
  readonly #store: Store
  readonly #box: SecretBox
  readonly #registry: BridgeRegistry
  readonly #env: Env
  readonly #events: EventHub | undefined

  /**
   * @param options.box encrypts secret connection values at rest; which values are secret
   *   comes from each bridge's connection form (`secret: true`) in `registry`.
   * @param options.events hears every change (`task.changed`) and manual start (`execution.queued`).
   */
  constructor(options: {
    store: Store
    registry: BridgeRegistry
    box: SecretBox
    env?: Env
    events?: EventHub
  }) {
    this.#store = options.store
    this.#box = options.box
    this.#registry = options.registry
    this.#env = options.env ?? process.env
    this.#events = options.events
  }

  /**
   * Saves a task document (an object, or YAML/JSON text). With `draft` it is kept as a
   * draft, with its issues when it has any, and never scheduled — complete or not, so a
   * wizard saving half-way never makes a task of it. Without `draft` the document is
   * validated and compiled, and refused when incomplete. The task's id is the document's
   * `id`, else a slug of its subject.
   */
  async save(input: unknown, options: SaveOptions = {}): Promise<TaskView> {
    const raw = typeof input === 'string' ? parseText(input) : input
    const id = taskIdOf(raw)
    const stored = await this.#store.taskDefs.get(id)
    let document: unknown = raw
    /** The same task as stored, secrets and all: saving it again changes nothing. */
    let unchanged = false
    try {
      const file = validateTaskFile(raw)
      offlineCheck(compileTask(resolveEnvLoosely(file)))
      // A stored draft's secrets are sealed too: placeholders sent back keep them.
      const previous = stored ? (JSON.parse(stored.document) as TaskFile) : undefined
      // Fail closed: with a key that cannot open the stored secrets (a wrong or new key),
      // saving would mix two keys in one document; refuse before anything is written.
      if (previous) openTask(previous, this.#box)
      const merged = previous ? mergeSecrets(file, previous, this.#registry) : file
      // Sealing draws a fresh nonce, so compare what the documents say, not their ciphertext.
      unchanged =
        previous !== undefined &&
        !stored!.draft &&
        options.draft !== true &&
        JSON.stringify(openTask(merged, this.#box)) ===
          JSON.stringify(openTask(previous, this.#box))
      document = sealTask(merged, this.#box, this.#registry)
    } catch (error) {
      if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_TASK' || !options.draft)
        throw error
      // Incomplete, kept as a draft (its view lists the issues). A draft's secrets are sealed as a complete task's are, and masked when read back.
      document = this.#sealDraft(raw, stored)
    }
    const draft = options.draft === true
    if (
      unchanged &&
      stored &&
      (options.expectedRevision === undefined || options.expectedRevision === stored.revision)
    ) {
      // Importing the same document again keeps its revision, its plan and its schedule.
      return this.#view(await this.#stored(id))
    }
    // A draft is never active. A task keeps its state; a new one, or a draft saved as a task
    // (the wizard's Finish), is active as its plan says.
    const active =
      !draft && (stored && !stored.draft ? stored.active : planOf(document)?.active !== false)
    await this.#store.taskDefs.put(
      {
        taskId: id,
        subject: subjectOf(raw) ?? id,
        document: JSON.stringify(document),
        draft,
        active,
      },
      options.expectedRevision,
    )
    // A saved task is planned afresh from now by the service (its plan may have changed).
    await this.#store.taskDefs.setSchedule(id, { nextRunAt: null })
    const saved = await this.#stored(id)
    this.#changed(id, 'saved', saved.revision)
    return this.#view(saved)
  }

  /**
   * The offline part of `check`: what keeps a document from being a complete task (schema,
   * system keys, pairs, mappings, transforms), without connecting to anything and without
   * the environment (`${VAR}` stays a reference). Empty when it is complete.
   */
  check(input: unknown): TaskIssue[] {
    try {
      return documentIssues(typeof input === 'string' ? parseText(input) : input)
    } catch (error) {
      // Text that is not YAML at all.
      if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_TASK') throw error
      return (
        (error.details.issues as TaskIssue[] | undefined) ?? [{ path: '', message: error.message }]
      )
    }
  }

  /** The task, secrets masked; OSY_TASK_NOT_FOUND when there is none. */
  async get(taskId: string): Promise<TaskView> {
    const task = await this.#stored(taskId)
    const paused = task.active ? undefined : await this.pauseNote(taskId)
    return { ...this.#view(task), ...(paused ? { paused } : {}) }
  }

  /**
   * Why the plan paused itself, when its latest finished run paused it (a task's
   * `notify.failuresBeforePause`); undefined otherwise.
   */
  async pauseNote(taskId: string): Promise<PauseNote | undefined> {
    const last = (await this.#store.executions.list(taskId, 5)).find(
      (e) => e.status !== 'queued' && e.status !== 'running',
    )
    if (last?.status !== 'failed') return undefined
    const logs = await this.#store.executions.logs(last.id)
    for (let i = logs.length - 1; i >= 0; i--) {
      const data = logs[i]!.data as Record<string, unknown> | undefined
      if (data?.[PAUSE_MARK] === true && typeof data.reason === 'string')
        return { reason: data.reason, at: logs[i]!.at, executionId: last.id }
    }
    return undefined
  }

  async list(): Promise<TaskView[]> {
    return (await this.#store.taskDefs.list()).map((t) => this.#view(t))
  }

  /**
   * Every task as an overview lists it: the view without its document (so nothing to mask,
   * which is most of the cost of {@link list}), with the ids of the profiles its systems were
   * made from.
   */
  async summaries(): Promise<TaskSummary[]> {
    return (await this.#store.taskDefs.list()).map((task) => {
      const document = JSON.parse(task.document) as unknown
      return {
        ...stateOf(task, document),
        profiles: profileIdsOf(document),
        systems: systemsOf(document),
      }
    })
  }

  /** Turns the plan on; a draft cannot be activated. */
  async activate(taskId: string): Promise<TaskView> {
    const task = await this.#stored(taskId)
    if (task.draft) throw draftError(taskId, issuesOf(task), 'activate')
    await this.#store.taskDefs.setActive(taskId, true)
    await this.#store.taskDefs.setSchedule(taskId, { nextRunAt: null })
    const view = await this.get(taskId)
    this.#changed(taskId, 'activated', view.revision)
    return view
  }

  /**
   * Queues a run of the task (a manual start: the CLI's `tasks start`, the API): behind a
   * running one, and once however often it is asked for. A draft is refused with
   * OSY_TASK_DRAFT listing its issues, so no run is queued that can only fail.
   */
  async start(taskId: string, trigger = 'manual'): Promise<QueuedRun> {
    const task = await this.#stored(taskId)
    if (task.draft) throw draftError(taskId, issuesOf(task), 'start')
    const { id, created } = await this.#store.executions.enqueue({ taskId, trigger })
    if (created)
      this.#events?.publish({ type: 'execution.queued', executionId: id, taskId, trigger })
    const running = await this.#store.executions.running(taskId)
    return { executionId: id, created, ...(running ? { runningId: running.id } : {}) }
  }

  /** Turns the plan off: no scheduled runs; manual starts still work. */
  async deactivate(taskId: string): Promise<TaskView> {
    await this.#stored(taskId)
    await this.#store.taskDefs.setActive(taskId, false)
    await this.#store.taskDefs.setSchedule(taskId, { nextRunAt: null })
    const view = this.#view(await this.#stored(taskId))
    this.#changed(taskId, 'deactivated', view.revision)
    return view
  }

  /** Deletes the task with its links, checkpoints, errors, conflicts and protocols. */
  async remove(taskId: string): Promise<void> {
    await this.#stored(taskId)
    const running = await this.#store.executions.running(taskId)
    if (running) {
      throw new OpenSyncError(
        'OSY_TASK_RUNNING',
        `task ${taskId} is running (execution ${running.id}): cancel it first`,
      )
    }
    await this.#store.links.removeTask(taskId)
    await this.#store.taskDefs.remove(taskId)
    this.#changed(taskId, 'deleted')
  }

  #changed(
    taskId: string,
    change: 'saved' | 'activated' | 'deactivated' | 'deleted',
    revision?: number,
  ) {
    this.#events?.publish({
      type: 'task.changed',
      taskId,
      change,
      ...(revision !== undefined ? { revision } : {}),
    })
  }

  /** The document for export: secrets masked, `${VAR}` references as written. */
  async export(taskId: string): Promise<unknown> {
    const task = await this.#stored(taskId)
    return maskTask(JSON.parse(task.document) as TaskFile, this.#registry)
  }

  /**
   * Connection values a client holds for system `systemKey` of stored task `taskId` (as the
   * API shows them, secrets masked), with each placeholder `********` of a secret field
   * replaced by the stored value, decrypted: what saving keeps, for the wizard's checks
   * while editing. The same bridge is required; a placeholder with nothing stored is
   * OSY_INVALID_TASK. The result holds secrets: use it to connect, never return or log it.
   */
  async connectionWithSecrets(
    taskId: string,
    systemKey: string,
    system: { readonly bridge: string; readonly connection: Readonly<Record<string, unknown>> },
  ): Promise<Record<string, unknown>> {
    const task = await this.#stored(taskId)
    const previous = openTask(JSON.parse(task.document) as TaskFile, this.#box)
    const incoming = {
      systems: { [systemKey]: { bridge: system.bridge, connection: system.connection } },
    }
    const merged = mergeSecrets(incoming, previous, this.#registry)
    return { ...merged.systems[systemKey]?.connection }
  }

  /** The task as the engine runs it: secrets decrypted, `${VAR}` from the environment. */
  async resolve(taskId: string): Promise<ResolvedTask> {
    const task = await this.#stored(taskId)
    if (task.draft) throw draftError(taskId, issuesOf(task), 'run')
    const opened = openTask(JSON.parse(task.document) as TaskFile, this.#box)
    return compileTask(validateTaskFile(substituteEnv(opened, this.#env, `task ${taskId}`)))
  }

  /**
   * The task as listings and reports need it (id, subject, systems, pairs), compiled without
   * opening its secrets or reading the environment. A draft, which may not compile, keeps
   * its systems' keys and no pairs.
   */
  async outline(taskId: string): Promise<ResolvedTask> {
    const task = await this.#stored(taskId)
    const document = JSON.parse(task.document) as TaskFile
    if (!task.draft)
      return compileTask(validateTaskFile(resolveEnvLoosely(maskTask(document, this.#registry))))
    const keys = Object.keys((document as { systems?: object }).systems ?? {})
    const system = (key: string | undefined, i: number) =>
      Object.freeze({ key: key ?? String(i), bridge: '', connection: Object.freeze({}) })
    return Object.freeze({
      id: task.taskId,
      subject: task.subject,
      systems: Object.freeze([system(keys[0], 0), system(keys[1], 1)] as const),
      pairs: Object.freeze([]),
      plan: planOf(document) ?? ({ kind: 'manual', active: false } as const),
    })
  }

  /**
   * Seals the connection values of a draft (what may be a secret is: a bridge not chosen yet
   * marks every value as one); a placeholder sent back keeps the stored value, as for a
   * complete task.
   */
  #sealDraft(raw: unknown, stored: StoredTask | undefined): unknown {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw
    const previous = stored ? (JSON.parse(stored.document) as TaskFile) : undefined
    if (previous) openTask(previous, this.#box)
    const merged = mergeSecrets(raw as TaskFile, previous, this.#registry)
    return sealTask(merged, this.#box, this.#registry)
  }

  async #stored(taskId: string): Promise<StoredTask> {
    const task = await this.#store.taskDefs.get(taskId)
    if (!task) throw new OpenSyncError('OSY_TASK_NOT_FOUND', `no task "${taskId}"`)
    return task
  }

  #view(task: StoredTask): TaskView {
    const document = JSON.parse(task.document) as unknown
    return {
      ...stateOf(task, document),
      document: maskTask(document as TaskFile, this.#registry),
    }
  }
}

/** OSY_TASK_DRAFT: the draft cannot be activated, started or run, and why. */
function draftError(
  taskId: string,
  issues: readonly TaskIssue[],
  what: 'activate' | 'start' | 'run',
): OpenSyncError {
  const verb = what === 'activate' ? 'activating' : what === 'start' ? 'starting' : 'running'
  return new OpenSyncError(
    'OSY_TASK_DRAFT',
    issues.length > 0
      ? `task ${taskId} is a draft: complete it before ${verb} it (${issues
          .map((i) => `${i.path}: ${i.message}`)
          .join('; ')})`
      : `task ${taskId} is a draft: it is complete, save it as a task (without draft) before ${verb} it`,
    { details: { taskId, issues } },
  )
}

/**
 * What a task must pass before it is stored as complete (and may be active): the part of
 * `opensync check` that needs no connection (checkTaskOffline: SQL filters are one
 * condition). Throws OSY_INVALID_TASK listing the problems, as a schema error does.
 */
function offlineCheck(task: ResolvedTask): void {
  const problems = checkTaskOffline(task)
  if (problems.length === 0) return
  const issues = problems.map((p) => ({ path: p.path, message: p.message }))
  throw new OpenSyncError(
    'OSY_INVALID_TASK',
    `invalid task:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
    { details: { issues, field: issues[0]!.path } },
  )
}

function parseText(text: string): unknown {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    throw new OpenSyncError('OSY_INVALID_TASK', yamlProblem(doc.errors[0]!, text))
  }
  return doc.toJS()
}

function taskIdOf(raw: unknown): string {
  const r = raw as { id?: unknown; subject?: unknown } | null
  if (r && typeof r.id === 'string' && r.id !== '') return r.id
  if (r && typeof r.subject === 'string' && r.subject.trim() !== '') return slugify(r.subject)
  throw new OpenSyncError('OSY_INVALID_TASK', 'a task needs an id or a subject, even as a draft', {
    details: { issues: [{ path: 'subject', message: 'required' }] },
  })
}

function subjectOf(raw: unknown): string | undefined {
  const s = (raw as { subject?: unknown } | null)?.subject
  return typeof s === 'string' ? s : undefined
}

function planOf(document: unknown): ExecutionPlan | undefined {
  const plan = (document as { plan?: ExecutionPlan } | null)?.plan
  return plan && typeof plan === 'object' && typeof plan.kind === 'string' ? plan : undefined
}

/** The profile ids the systems of a task document were made from (`systems.<key>.profile.id`). */
export function profileIdsOf(document: unknown): string[] {
  const systems = (document as { systems?: unknown } | null)?.systems
  if (!systems || typeof systems !== 'object') return []
  const ids: string[] = []
  for (const system of Object.values(systems as Record<string, unknown>)) {
    const id = (system as { profile?: { id?: unknown } } | null)?.profile?.id
    if (typeof id === 'string') ids.push(id)
  }
  return ids
}

/** A document's systems by key with their bridge and profile id (drafts may lack either). */
export function systemsOf(document: unknown): TaskSystem[] {
  const systems = (document as { systems?: unknown } | null)?.systems
  if (!systems || typeof systems !== 'object') return []
  return Object.entries(systems as Record<string, unknown>).map(([key, value]) => {
    const system = (value ?? {}) as { bridge?: unknown; profile?: { id?: unknown } }
    return {
      key,
      ...(typeof system.bridge === 'string' ? { bridge: system.bridge } : {}),
      ...(typeof system.profile?.id === 'string' ? { profile: system.profile.id } : {}),
    }
  })
}

/** What the list and a single view both say of a stored task and its parsed document. */
function stateOf(task: StoredTask, document: unknown): Omit<TaskSummary, 'profiles' | 'systems'> {
  const plan = planOf(document)
  return {
    id: task.taskId,
    subject: task.subject,
    draft: task.draft,
    active: task.active,
    issues: issuesOf(task),
    ...(plan ? { plan } : {}),
    ...(task.nextRunAt ? { nextRunAt: task.nextRunAt } : {}),
    revision: task.revision,
    createdAt: task.createdAt,
    updatedAt: task.updatedAt,
  }
}

/**
 * What keeps a stored draft from being complete, by the same check a save makes (so a draft
 * saved with issues shows them, and an empty list means it may be saved as a task).
 */
function issuesOf(task: StoredTask): TaskIssue[] {
  if (!task.draft) return []
  try {
    return documentIssues(JSON.parse(task.document))
  } catch (error) {
    return isOpenSyncError(error) ? [{ path: '', message: error.message }] : []
  }
}

/**
 * The offline check of a parsed document: its issues, empty when it is complete. Errors
 * other than an invalid task are thrown.
 */
function documentIssues(raw: unknown): TaskIssue[] {
  try {
    offlineCheck(compileTask(resolveEnvLoosely(validateTaskFile(raw))))
    return []
  } catch (error) {
    if (!isOpenSyncError(error) || error.code !== 'OSY_INVALID_TASK') throw error
    return (
      (error.details.issues as TaskIssue[] | undefined) ?? [{ path: '', message: error.message }]
    )
  }
}

/** Compiles with `${VAR}` references left as placeholders: saving must not need the secrets. */
function resolveEnvLoosely(file: TaskFile): TaskFile {
  return substituteEnv(
    file,
    new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `\${${name}}` : undefined) }),
    'task',
  ) as TaskFile
}
