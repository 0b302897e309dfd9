import { transformKey } from '../../engine/task/index.ts'
import type { ProfileFieldAssignment } from './profile-schema.ts'

/** A profile's field assignment with the sides and transforms named after the task's keys. */
export function fieldsOf(
  assignment: ProfileFieldAssignment,
  key: (side: 'home' | 'other') => string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [id, mapping] of Object.entries(assignment)) {
    if (typeof mapping === 'string') {
      out[id] = mapping
      continue
    }
    out[id] = {
      [key('home')]: mapping.home,
      [key('other')]: mapping.other,
      ...(mapping.toOther !== undefined ? { [transformKey(key('other'))]: mapping.toOther } : {}),
      ...(mapping.toHome !== undefined ? { [transformKey(key('home'))]: mapping.toHome } : {}),
    }
  }
  return out
}
