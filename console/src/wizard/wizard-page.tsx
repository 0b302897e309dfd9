import { Alert, Button, Group, Stack, Stepper, Text } from '@mantine/core'
import { IconDeviceFloppy } from '@tabler/icons-react'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useParams } from 'wouter'
import { ApiProblem, api, unwrap } from '../api/client.ts'
import { useTask } from '../api/queries.ts'
import { PageHeader } from '../components/page-header.tsx'
import { paths, useNavigate, useQueryParam } from '../router.ts'
import { StepAssignments } from './step-assignments.tsx'
import { StepConnection } from './step-connection.tsx'
import { StepExecution } from './step-execution.tsx'
import { StepSystems } from './step-systems.tsx'
import { usePairOffers } from './wizard-api.ts'
import { emptyWizard, profileOf, STEPS, type WizardState } from './wizard-state.ts'

/**
 * The synchronization wizard: System selection · Connection · Assignments · Execution. Every
 * step can be saved as a draft (the task is stored with what is there, complete or not, and
 * is not scheduled) and continued later from the overview; Finish saves it as a task, which
 * must be complete. A task that is one already is saved as a task at every step. Back and
 * the overview are on every step.
 */
export function WizardPage() {
  const { t } = useTranslation()
  const params = useParams<{ id?: string }>()
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const stepParam = Number(useQueryParam('step') ?? 0)
  const [step, setStep] = useState(
    Number.isInteger(stepParam) && stepParam >= 0 && stepParam < 4 ? stepParam : 0,
  )
  const stored = useTask(params.id)
  const [state, setState] = useState<WizardState>(emptyWizard)
  const [saved, setSaved] = useState(false)

  useEffect(() => {
    const data = stored.data
    if (!data) return
    setState({
      taskId: data.id,
      revision: data.revision,
      draft: data.draft,
      subject: data.subject,
      home: profileOf(data.document, 0),
      other: profileOf(data.document, 1),
      document: data.document,
    })
  }, [stored.data])

  /** Builds the document from the two profiles (the server's taskFromProfiles), when needed. */
  const ensureDocument = async (current: WizardState): Promise<WizardState> => {
    if (
      current.document &&
      profileOf(current.document, 0) === current.home &&
      profileOf(current.document, 1) === current.other
    ) {
      return {
        ...current,
        document: { ...current.document, subject: current.subject || current.document.subject },
      }
    }
    if (!current.home || !current.other) return current
    const made = unwrap(
      await api.POST('/api/profiles/task', {
        body: {
          home: current.home,
          other: current.other,
          choices: { subject: current.subject || undefined },
        },
      }),
    )
    return { ...current, document: made.document }
  }

  /**
   * Stores the wizard's document: as a draft (kept whatever it lacks, never scheduled), or as
   * a task (refused with its issues while incomplete).
   */
  const store = async (current: WizardState, draft: boolean) => {
    const next = await ensureDocument(current)
    const document = next.document ?? { subject: next.subject }
    const result = next.taskId
      ? await api.PUT('/api/tasks/{id}', {
          params: {
            path: { id: next.taskId },
            header: { 'if-match': String(next.revision ?? '*') },
          },
          body: { document, draft },
        })
      : await api.POST('/api/tasks', { body: { document, draft } })
    const task = unwrapTask(result, (list) => t('wizard.missing', { list }))
    await queryClient.invalidateQueries({ queryKey: ['tasks'] })
    await queryClient.invalidateQueries({ queryKey: ['task', task.id] })
    return {
      ...next,
      taskId: task.id,
      revision: task.revision,
      draft: task.draft,
      missing: task.issues.map((i) => i.path || i.message),
    }
  }

  // A finished task stays one when saved again; anything else is saved as a draft.
  const save = useMutation({
    mutationFn: (current: WizardState) => store(current, current.draft !== false),
    onSuccess: (next) => {
      setState(next)
      setSaved(true)
      if (!params.id && next.taskId) navigate(paths.editTask(next.taskId, step), true)
    },
  })

  /** Leaving System selection makes the document from the two profiles; nothing is saved yet. */
  const prepare = useMutation({ mutationFn: ensureDocument, onSuccess: (next) => setState(next) })
  // Step 3 is skipped when every pair the profiles offer is fixed: there is nothing to choose.
  const offers = usePairOffers(
    state.home,
    state.other,
    state.document ? Object.keys(state.document.systems ?? {}) : undefined,
  ).data?.items
  const skipAssignments = offers !== undefined && offers.length > 0 && offers.every((o) => o.fixed)
  const goTo = (wanted: number) => {
    const target = wanted === 2 && skipAssignments ? (step < 2 ? 3 : 1) : wanted
    setSaved(false)
    if (target > 0) {
      prepare.mutate(state, { onSuccess: () => setStep(target) })
      return
    }
    setStep(target)
  }

  // Finish: saved as a task (draft: false), which the server refuses while it is incomplete.
  const finish = useMutation({
    mutationFn: async () => (await store(state, false)).taskId,
    onSuccess: (id) => navigate(paths.task(id)),
  })

  const update = (change: Partial<WizardState>) => {
    setSaved(false)
    setState((old) => ({ ...old, ...change }))
  }
  const error = save.error ?? finish.error ?? prepare.error

  return (
    <Stack>
      <PageHeader
        title={
          state.taskId
            ? t('wizard.editTitle', { subject: state.subject || state.taskId })
            : t('wizard.newTitle')
        }
        actions={
          <Button
            variant="default"
            leftSection={<IconDeviceFloppy size={18} aria-hidden />}
            onClick={() => save.mutate(state)}
            loading={save.isPending}
          >
            {state.draft === false ? t('wizard.saveTask') : t('wizard.saveDraft')}
          </Button>
        }
      />
      {saved && save.data && (
        <Alert color="green" role="status">
          {save.data.draft === false
            ? t('wizard.savedTask')
            : save.data.missing.length > 0
              ? `${t('wizard.saved')} ${t('wizard.stillMissing', { list: save.data.missing.join(', ') })}`
              : t('wizard.savedComplete')}
        </Alert>
      )}
      {error && (
        <Alert color="red" role="alert">
          {error.message}
        </Alert>
      )}
      <Stepper active={step} onStepClick={goTo} allowNextStepsSelect={false}>
        {STEPS.map((name) => (
          <Stepper.Step
            key={name}
            label={t(`wizard.step.${name}`)}
            description={
              name === 'assignments' && skipAssignments ? t('wizard.skipped') : undefined
            }
          />
        ))}
      </Stepper>
      <Text component="h2" fw={700} size="lg">
        {t(`wizard.step.${STEPS[step]}`)}
      </Text>
      {step === 0 && <StepSystems state={state} onChange={update} />}
      {step === 1 && state.document && <StepConnection state={state} onChange={update} />}
      {step === 2 && state.document && skipAssignments && (
        <Text c="dimmed">{t('wizard.noPairs')}</Text>
      )}
      {step === 2 && state.document && !skipAssignments && (
        <StepAssignments state={state} onChange={update} />
      )}
      {step === 3 && state.document && <StepExecution state={state} onChange={update} />}
      <Group justify="space-between" mt="md">
        <Group>
          <Button variant="default" disabled={step === 0} onClick={() => goTo(step - 1)}>
            {t('wizard.back')}
          </Button>
          <Button variant="subtle" onClick={() => navigate(paths.overview)}>
            {t('wizard.toOverview')}
          </Button>
        </Group>
        {step < 3 ? (
          <Button
            onClick={() => goTo(step + 1)}
            disabled={step === 0 && (!state.home || !state.other)}
            loading={prepare.isPending}
          >
            {t('wizard.next')}
          </Button>
        ) : (
          <Button onClick={() => finish.mutate()} loading={finish.isPending}>
            {t('wizard.finish')}
          </Button>
        )}
      </Group>
    </Stack>
  )
}

/** The saved task, or the error; an incomplete document's error lists its issues by path. */
function unwrapTask<T>(
  result: { data?: T; error?: unknown; response: Response },
  missing: (list: string) => string,
): T {
  try {
    return unwrap(result)
  } catch (error) {
    if (error instanceof ApiProblem && error.code === 'OSY_INVALID_TASK' && error.issues.length)
      throw new Error(
        missing(
          error.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
        ),
      )
    throw error
  }
}
