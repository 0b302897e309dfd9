import type { SessionUser } from '../api/session.ts'
import { useSession } from '../api/session.ts'

/** The signed-in user inside the layout (the layout is only shown with a session). */
export function useSessionUser(): SessionUser {
  return useSession().data!
}
