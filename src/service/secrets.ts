/**
 * Connection secrets (DESIGN.md §5): encrypted at rest with AES-256-GCM, masked in the API,
 * kept when a client sends the placeholder back, and scrubbed from log lines. See
 * docs/secrets.md.
 *
 * The flows, each through one helper:
 * - save (API, console, `tasks import`): `readTaskDocument(text, { env: false })`, then
 *   `sealTask(mergeSecrets(doc, stored, registry), box, registry)`.
 * - show and export: `maskTask(stored, registry)`.
 * - run: `openTask(stored, box)`, then `${VAR}` substitution and compilation; log lines go
 *   through `redact(line, secretValues(opened, registry))`.
 * @module
 */
export { isSealed, openSecretBox, SecretBox, secretKeyId } from './secrets-box.ts'
export type { SecretErrorReason } from './secrets-errors.ts'
export {
  loadSecretKey,
  parseSecretKey,
  SECRET_KEY_BYTES,
  SECRET_KEY_ENV,
  SECRET_KEY_FILE,
  type SecretKey,
  type SecretKeyOptions,
} from './secrets-key.ts'
export { MIN_REDACTED_LENGTH, REDACTED, redact } from './secrets-redact.ts'
export {
  type ConnectionFieldLookup,
  isEnvReference,
  maskTask,
  mergeSecrets,
  openTask,
  SECRET_PLACEHOLDER,
  type SecretFieldSource,
  type SecretTaskDocument,
  type SecretTaskSystem,
  sealTask,
  secretValues,
} from './secrets-task.ts'
