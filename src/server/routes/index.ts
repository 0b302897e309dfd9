import { auditRoutes } from './audit-routes.ts'
import { consoleRoutes } from './console-routes.ts'
import { eventsRoutes } from './events-routes.ts'
import { executionRoutes } from './execution-routes.ts'
import { healthRoutes } from './health-routes.ts'
import { inboxRoutes } from './inbox-routes.ts'
import { metricsRoutes } from './metrics-routes.ts'
import type { RoutePlugin } from './route-plugin.ts'
import { sessionRoutes } from './session-routes.ts'
import { setupRoutes } from './setup-routes.ts'
import { statusRoutes } from './status-routes.ts'
import { taskRoutes } from './task-routes.ts'
import { tokenRoutes } from './token-routes.ts'
import { userRoutes } from './user-routes.ts'
import { wizardRoutes } from './wizard-routes.ts'

/**
 * Every file of routes, registered in this order by buildServer. To add routes, write a
 * `src/server/routes/<resource>-routes.ts` exporting a {@link RoutePlugin} (see its example:
 * each route declares `config.access` and zod schemas) and add it to this list, one line;
 * then add the routes' rows to the authorization matrix (test/server/access-rows-*.ts).
 */
// The console last: its catch-all answers every GET that no API route took.
export const ROUTES: readonly RoutePlugin[] = [
  healthRoutes,
  metricsRoutes,
  sessionRoutes,
  setupRoutes,
  userRoutes,
  tokenRoutes,
  taskRoutes,
  executionRoutes,
  auditRoutes,
  eventsRoutes,
  inboxRoutes,
  wizardRoutes,
  statusRoutes,
  consoleRoutes,
]
