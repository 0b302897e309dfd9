export { manifestConnectionFields, restBridge, restConnectionFields } from './rest-bridge.ts'
export { RestConnection } from './rest-connection.ts'
export {
  checkManifest,
  parseManifest,
  type RestManifest,
  restManifestSchema,
} from './rest-manifest.ts'
export { sharedBucket, TokenBucket } from './rest-rate-limit.ts'
