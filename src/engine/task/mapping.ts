import { OpenSyncError, type Value } from '../../sdk/index.ts'
import type { FieldMapping, FieldValues, Side } from './resolved-task.ts'
import { type MappingLongForm, type Transform, transformKey } from './task-file-schema.ts'
import { IssueList, type IssuePath } from './task-issues.ts'
import {
  compileTransform,
  type Flow,
  identityPipeline,
  invertTransform,
  type Pipeline,
  StepFailed,
  stepsOf,
} from './transforms.ts'

/** What a mapping is compiled against: the pair's systems and which ways it flows. */
export interface MappingContext {
  /** The system keys, side 0 first. */
  readonly keys: readonly [string, string]
  /** Whether the pair flows from side 0 to side 1, and from side 1 to side 0. */
  readonly flows: readonly [boolean, boolean]
  /** The path of the mapping in the task file (`pairs[0].fields.name`). */
  readonly path: IssuePath
  readonly issues: IssueList
}

/**
 * Compiles one entry under `fields:` into a {@link FieldMapping}. Each direction uses its
 * own `to<Key>` transform; without one, the other direction's transform inverted, and
 * without either, the values as they are. Problems go to `ctx.issues`, and the result is
 * undefined when there were any.
 */
export function compileMapping(
  id: string,
  written: string | MappingLongForm,
  ctx: MappingContext,
): FieldMapping | undefined {
  const [k0, k1] = ctx.keys
  const spec: MappingLongForm = typeof written === 'string' ? { [k0]: id, [k1]: written } : written
  const fields = [fieldList(spec[k0]), fieldList(spec[k1])] as const
  const transforms = [spec[transformKey(k0)], spec[transformKey(k1)]] as [Transform?, Transform?]
  const before = ctx.issues.issues.length

  if (fields[0].length === 0 && fields[1].length === 0) {
    ctx.issues.add(ctx.path, `must name at least one field of ${k0} or ${k1}`)
    return undefined
  }
  for (const s of [0, 1] as const) {
    const twice = fields[s].find((f, i) => fields[s].indexOf(f) !== i)
    if (twice !== undefined)
      ctx.issues.add([...ctx.path, ctx.keys[s]], `names the field ${twice} twice`)
  }
  if (ctx.issues.issues.length > before) return undefined
  const pipelines = [
    directionPipeline(0, fields, transforms, ctx),
    directionPipeline(1, fields, transforms, ctx),
  ]
  if (ctx.issues.issues.length > before) return undefined

  const converters = [
    converter(id, 0, fields, pipelines[0]!, ctx.keys),
    converter(id, 1, fields, pipelines[1]!, ctx.keys),
  ] as const
  const plain = (s: Side) =>
    pipelines[s] === identityPipeline && fields[s].length === 1 && fields[1 - s]!.length === 1
  return Object.freeze({
    id,
    fields: [Object.freeze(fields[0]), Object.freeze(fields[1])] as const,
    spec,
    convert: (from: Side, values: FieldValues) => converters[from](values),
    plain: Object.freeze([plain(0), plain(1)] as const),
  })
}

function fieldList(written: unknown): readonly string[] {
  if (written === undefined) return []
  return typeof written === 'string' ? [written] : (written as readonly string[])
}

/**
 * The pipeline from side `s` to the other side, or a stand-in that throws when the pair does
 * not flow that way and no pipeline can be made (the engine never calls it then).
 */
function directionPipeline(
  s: Side,
  fields: readonly [readonly string[], readonly string[]],
  transforms: readonly [Transform?, Transform?],
  ctx: MappingContext,
): Pipeline | undefined {
  const t: Side = s === 0 ? 1 : 0
  const site = {
    sourceKey: ctx.keys[s],
    targetKey: ctx.keys[t],
    sourceCount: fields[s].length,
    targetCount: fields[t].length,
  }
  const own = transforms[t]
  if (own !== undefined) {
    const path = [...ctx.path, transformKey(ctx.keys[t])]
    return compileTransform(stepsOf(own), { ...site, path, listed: Array.isArray(own) }, ctx.issues)
  }
  // Nothing to write on that side: the mapping only feeds the other system.
  if (fields[t].length === 0) return { async: false, run: () => null }

  const flows = ctx.flows[s]
  const needs = `${ctx.keys[s]}->${ctx.keys[t]} needs ${transformKey(ctx.keys[t])}`
  const other = transforms[s]
  if (other !== undefined) {
    const path = [...ctx.path, transformKey(ctx.keys[s])]
    const inverse = invertTransform(stepsOf(other), path, Array.isArray(other))
    if ('steps' in inverse) {
      if (inverse.steps.length === 0) return sameCount(site, ctx, needs, flows)
      // Any problem here mirrors one in the transform it came from, which is reported there.
      const scratch = new IssueList()
      return compileTransform(
        inverse.steps,
        { ...site, path, listed: Array.isArray(other) },
        scratch,
      )
    }
    if (flows) ctx.issues.add(inverse.path, `${inverse.reason}; ${needs}`)
    return flows ? undefined : notFlowing(ctx, s)
  }
  return sameCount(site, ctx, needs, flows)
}

/** Values pass as they are: fine when both sides have as many fields. */
function sameCount(
  site: {
    readonly sourceKey: string
    readonly targetKey: string
    readonly sourceCount: number
    readonly targetCount: number
  },
  ctx: MappingContext,
  needs: string,
  flows: boolean,
): Pipeline | undefined {
  if (site.sourceCount === site.targetCount) return identityPipeline
  if (!flows) return notFlowing(ctx, ctx.keys.indexOf(site.sourceKey) as Side)
  const how =
    site.sourceCount === 0
      ? 'a const or expr step'
      : site.sourceCount > site.targetCount
        ? 'a concat or expr step'
        : 'a split or expr step'
  const has = (key: string, count: number) =>
    count === 0 ? `${key} has no field` : `${key} has ${count} field${count === 1 ? '' : 's'}`
  ctx.issues.add(
    ctx.path,
    `${has(site.sourceKey, site.sourceCount)} here and ${has(site.targetKey, site.targetCount)}, so ${needs} with ${how}`,
  )
  return undefined
}

function notFlowing(ctx: MappingContext, s: Side): Pipeline {
  const direction = `${ctx.keys[s]}->${ctx.keys[s === 0 ? 1 : 0]}`
  return {
    async: false,
    run() {
      throw new OpenSyncError(
        'OSY_INTERNAL',
        `the pair does not flow ${direction}, so this mapping cannot convert that way`,
      )
    },
  }
}

const NO_RECORD: FieldValues = Object.freeze({})

function converter(
  id: string,
  from: Side,
  fields: readonly [readonly string[], readonly string[]],
  pipeline: Pipeline,
  keys: readonly [string, string],
): (values: FieldValues) => FieldValues | Promise<FieldValues> {
  const to: Side = from === 0 ? 1 : 0
  const source = fields[from]
  const target = fields[to]
  const direction = `${keys[from]}->${keys[to]}`
  const fail = (error: unknown): never => {
    if (!(error instanceof StepFailed)) throw error
    throw new OpenSyncError(
      'OSY_TRANSFORM_FAILED',
      `mapping ${id} (${direction}), step ${error.step + 1} (${error.kind}): ${error.message}`,
      {
        cause: error,
        details: {
          mapping: id,
          direction,
          step: error.step,
          valueType: error.rejected.valueType,
          field: source.join(', '),
        },
      },
    )
  }
  const output = (flow: Flow): FieldValues => {
    if (target.length === 0) return {}
    if (target.length === 1) return { [target[0]!]: flow as Value }
    const list = flow as readonly Value[]
    return Object.fromEntries(target.map((f, i) => [f, list[i] ?? null]))
  }
  if (pipeline === identityPipeline && source.length === 1) {
    // The plain rename, by far the most common mapping: no pipeline, no allocation beyond the result.
    const [s0] = source as [string]
    const [t0] = target as [string]
    return (values) => ({ [t0]: values[s0] ?? null })
  }
  return (values) => {
    const input: Flow =
      source.length === 0
        ? null
        : source.length === 1
          ? (values[source[0]!] ?? null)
          : source.map((f) => values[f] ?? null)
    // Only expressions read `$record`; other pipelines skip building it per record.
    const record = pipeline.async
      ? Object.fromEntries(source.map((f) => [f, values[f] ?? null]))
      : NO_RECORD
    try {
      const out = pipeline.run(input, record)
      return out instanceof Promise ? out.then(output, fail) : output(out)
    } catch (error) {
      return fail(error)
    }
  }
}
