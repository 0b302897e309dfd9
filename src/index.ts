/**
 * OpenSync as a library: run a task file from code, or embed the service. The CLI
 * (`bin/opensync.js`) is built on exactly these; bridges import `opensync/sdk` instead.
 * @module
 */
export { builtinBridges, createRegistry } from './bridges/index.ts'
export {
  type CheckProblem,
  type CheckReport,
  checkTask,
  checkTaskOffline,
} from './engine/check-task.ts'
export { type RunOptions, type RunResult, runTask } from './engine/run-task.ts'
export {
  loadTaskFile,
  type ParseTaskFileOptions,
  parseTaskFile,
  type ResolvedTask,
  type TaskIssue,
} from './engine/task/index.ts'
export {
  type LoadedProfile,
  loadProfiles,
  ProfileCatalog,
  type TaskChoices,
  taskFromProfiles,
} from './service/profiles/index.ts'
export { Service, type ServiceOptions } from './service/service.ts'
export { openStore, type Store, type StoreOptions } from './store/index.ts'
