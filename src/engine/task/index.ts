/**
 * Task files: the schema users write against, `${VAR}` substitution, transforms, and the
 * compilation into the {@link ResolvedTask} the engine runs.
 * @module
 */
export {
  type CompileOptions,
  compileTask,
  DEFAULT_MAX_DELETE_SHARE,
  slugify,
} from './compile-task.ts'
export { type Env, substituteEnv } from './env.ts'
export {
  loadTaskFile,
  type ParseTaskFileOptions,
  parseTaskFile,
  readTaskDocument,
  yamlProblem,
} from './load.ts'
export type * from './resolved-task.ts'
export {
  deletesSchema,
  type MappingLongForm,
  type PairFile,
  type PairSideFile,
  type PlanFile,
  planSchema,
  RESERVED_SYSTEM_KEYS,
  SYSTEM_KEY_PATTERN,
  type TaskFile,
  type TaskFileInput,
  TRANSFORM_STEP_KINDS,
  TRANSFORM_TYPES,
  type Transform,
  type TransformStep,
  taskFileJsonSchema,
  taskFileSchema,
  taskFileSchemaFor,
  transformKey,
  transformSchema,
  transformStepSchema,
  validateTaskFile,
} from './task-file-schema.ts'
export { formatPath, type TaskIssue } from './task-issues.ts'
