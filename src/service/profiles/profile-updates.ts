import type { ProfileCatalog } from './profile-catalog.ts'

/**
 * Compares two profile versions part by part: numeric parts as numbers (`3.10` is newer
 * than `3.9`), other parts as text. Negative when `a` is older, positive when newer.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+]/)
  const pb = b.split(/[.\-+]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? ''
    const y = pb[i] ?? ''
    if (x === y) continue
    if (x === '') return -1
    if (y === '') return 1
    const nx = /^\d+$/.test(x) ? Number(x) : Number.NaN
    const ny = /^\d+$/.test(y) ? Number(y) : Number.NaN
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) return nx - ny
    return x.localeCompare(y)
  }
  return 0
}

/** How a task's system stands with the profile it was made from. */
export interface ProfileStatus {
  /** The system key in the task. */
  readonly system: string
  /** The profile id and version the task records. */
  readonly id: string
  readonly version: string
  /**
   * `current`: the catalogue has that version; `newer`: it offers a newer one (`available`);
   * `older`: it has an older one only; `missing`: the profile is not installed. The task
   * runs the same in every case: it holds everything it needs.
   */
  readonly status: 'current' | 'newer' | 'older' | 'missing'
  /** The version the catalogue has, when it has the profile. */
  readonly available?: string
}

/** The part of a task document this reads: each system's recorded profile. */
export interface ProfileRefDocument {
  readonly systems?: Readonly<
    Record<
      string,
      { readonly profile?: { readonly id: string; readonly version: string } } | undefined
    >
  >
}

/** For each system of a task made from a profile: does the catalogue offer something newer? */
export function profileStatus(
  document: ProfileRefDocument,
  catalog: ProfileCatalog,
): readonly ProfileStatus[] {
  const out: ProfileStatus[] = []
  for (const [system, entry] of Object.entries(document.systems ?? {})) {
    const ref = entry?.profile
    if (!ref) continue
    const now = catalog.find(ref.id)
    if (!now) {
      out.push({ system, id: ref.id, version: ref.version, status: 'missing' })
      continue
    }
    const available = now.profile.version
    const order = compareVersions(available, ref.version)
    const status = order > 0 ? 'newer' : order < 0 ? 'older' : 'current'
    out.push({ system, id: ref.id, version: ref.version, status, available })
  }
  return out
}
