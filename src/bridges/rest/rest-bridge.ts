import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import {
  type Bridge,
  type BridgeContext,
  type ConnectionValues,
  type FieldSpec,
  OpenSyncError,
  resolveConnectionValues,
  throwIfAborted,
} from '../../sdk/index.ts'
import { checkManifest, parseManifest, type RestManifest } from './rest-manifest.ts'

/** The fields every REST system has; a manifest adds its own (user, tenant, pool…). */
export const restConnectionFields: readonly FieldSpec[] = [
  {
    name: 'baseUrl',
    label: 'Base URL',
    type: 'url',
    help: 'where the API answers, e.g. https://api.example.com/v3 (the manifest may fix it)',
  },
]

/** The connection form of one manifest: `baseUrl` plus the fields the manifest declares. */
export function manifestConnectionFields(manifest: RestManifest): FieldSpec[] {
  const usesBaseUrl = manifest.baseUrl.includes('{{baseUrl}}')
  const fields: FieldSpec[] = [
    { ...restConnectionFields[0]!, ...(usesBaseUrl ? { required: true } : {}) },
  ]
  for (const [name, f] of Object.entries(manifest.connection)) {
    if (name === 'baseUrl') continue
    fields.push({
      name,
      label: f.label ?? name,
      type: f.type,
      ...(f.required ? { required: true } : {}),
      ...(f.secret ? { secret: true } : {}),
      ...(f.default !== undefined ? { default: f.default } : {}),
      ...(f.help ? { help: f.help } : {}),
    })
  }
  return fields
}

/**
 * The REST bridge: any HTTP/JSON API, described by a manifest (docs/bridge-rest.md) in the
 * system's settings (`systems.<key>.settings.manifest`: the manifest itself, as a profile
 * embeds it, or the path of a YAML/JSON file). Reading and writing, no code per API.
 *
 * @example
 * const conn = await restBridge.connect(
 *   { baseUrl: 'http://localhost:3000' },
 *   { log: silentLogger, settings: { manifest: { rest: 1, recordTypes: { posts: { path: '/posts' } } } } },
 * )
 */
export const restBridge: Bridge = {
  name: 'rest',
  title: 'REST API (declarative manifest)',
  version: '1.0.0',
  connectionFields: restConnectionFields,
  filterKinds: ['sql', 'keyValue'],
  capabilities: {
    cursorReads: true,
    keyScan: false,
    upsert: false,
    snapshotReads: false,
    enforcesLength: false,
    listDatabases: false,
    // Requests stand alone (no transaction spans two), and the connection's gate keeps the
    // manifest's concurrency over both calls in flight.
    concurrentWrites: true,
  },
  connectionFieldsFor(settings) {
    const checked =
      typeof settings.manifest === 'object' ? checkManifest(settings.manifest) : undefined
    return checked?.ok ? manifestConnectionFields(checked.manifest) : restConnectionFields
  },
  checkSettings(settings) {
    const manifest = settings.manifest
    if (manifest === undefined)
      return [{ path: 'manifest', message: 'the REST bridge needs a manifest' }]
    // A path is read when the system connects; a document can be checked now.
    if (typeof manifest === 'string') return []
    const checked = checkManifest(manifest)
    return checked.ok
      ? []
      : checked.issues.map((i) => ({ path: `manifest.${i.path}`, message: i.message }))
  },
  async connect(values: ConnectionValues, ctx: BridgeContext) {
    throwIfAborted(ctx.signal)
    const manifest = parseManifest(await manifestOf(ctx.settings?.manifest))
    const v = resolveConnectionValues(manifestConnectionFields(manifest), values)
    const [
      { RestConnection },
      { HttpClient },
      { Authenticator },
      { sharedBucket },
      { renderString },
    ] = await Promise.all([
      import('./rest-connection.ts'),
      import('./rest-http.ts'),
      import('./rest-auth.ts'),
      import('./rest-rate-limit.ts'),
      import('./rest-template.ts'),
    ])
    const scope = { ...v }
    const baseUrl = renderString(manifest.baseUrl, scope).replace(/\/+$/, '')
    try {
      new URL(baseUrl)
    } catch {
      throw new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        `the base URL "${baseUrl}" is not an absolute http(s) URL`,
        {
          details: { field: 'baseUrl' },
        },
      )
    }
    const resolveUrl = (path: string) =>
      /^https?:\/\//i.test(path) ? path : `${baseUrl}${path.startsWith('/') ? '' : '/'}${path}`
    const auth = new Authenticator(manifest.auth, scope, resolveUrl)
    const bucket = manifest.rateLimit
      ? sharedBucket(
          baseUrl,
          auth.identity(),
          manifest.rateLimit.requestsPerSecond,
          manifest.rateLimit.burst,
        )
      : undefined
    const headers: Record<string, string> = {}
    for (const [k, h] of Object.entries(manifest.headers)) headers[k] = renderString(h, scope)
    const http = new HttpClient({ manifest, auth, bucket, headers, log: ctx.log })
    return new RestConnection({ manifest, http, scope, baseUrl, log: ctx.log })
  },
}

/** The manifest of the settings: the document itself, or a file path (YAML or JSON). */
async function manifestOf(value: unknown): Promise<unknown> {
  if (typeof value !== 'string') return value
  let text: string
  try {
    text = await readFile(value, 'utf8')
  } catch (cause) {
    throw new OpenSyncError('OSY_INVALID_CONNECTION', `cannot read the REST manifest ${value}`, {
      cause,
      details: { field: 'settings.manifest' },
    })
  }
  try {
    return parseYaml(text)
  } catch (cause) {
    throw new OpenSyncError(
      'OSY_INVALID_CONNECTION',
      `the REST manifest ${value} is not valid YAML`,
      {
        cause,
        details: { field: 'settings.manifest' },
      },
    )
  }
}
