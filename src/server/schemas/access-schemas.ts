import { z } from 'zod'
import { PERMISSIONS, ROLES } from '../../service/access/permissions.ts'

export const roleSchema = z.enum(ROLES).meta({ id: 'Role' })
export const permissionSchema = z.enum(PERMISSIONS).meta({ id: 'Permission' })

const username = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits, dots, hyphens, underscores or @')
const password = z.string().min(10).max(1024)
const profiles = z.array(z.string().min(1).max(200)).max(100)

/** The caller as GET /api/session shows them. */
export const sessionSchema = z
  .object({
    via: z.enum(['session', 'bearer']),
    username: z.string().optional(),
    role: roleSchema.optional(),
    token: z.string().optional().describe("The API token's name, when called with one."),
    permissions: z.array(permissionSchema),
    profiles: z
      .array(z.string())
      .optional()
      .describe('The system profiles the caller is limited to.'),
    csrfToken: z
      .string()
      .optional()
      .describe(
        "A console session's CSRF token: send it as X-CSRF-Token on every state-changing request.",
      ),
    expiresAt: z.string().optional(),
  })
  .meta({ id: 'Session' })

export const signInSchema = z.strictObject({
  username: z.string().max(200),
  password: z.string().max(1024),
})

export const setupStatusSchema = z.object({ needed: z.boolean() }).meta({ id: 'SetupStatus' })
export const setupSchema = z.strictObject({
  token: z
    .string()
    .max(200)
    .describe('The one-time token of the setup URL the first start printed.'),
  username,
  password,
})

export const userSchema = z
  .object({
    id: z.int(),
    username: z.string(),
    role: roleSchema,
    profiles: z.array(z.string()).optional(),
    locked: z.boolean().describe('Locked after too many failed sign-ins.'),
    createdAt: z.string(),
  })
  .meta({ id: 'User' })

export const newUserSchema = z.strictObject({
  username,
  password,
  role: roleSchema,
  profiles: profiles.optional().describe('Limit the user to tasks of these system profiles.'),
})

export const userChangeSchema = z.strictObject({
  role: roleSchema.optional(),
  profiles: profiles.nullable().optional().describe('null: no longer limited.'),
})

export const passwordSchema = z.strictObject({ password })

export const tokenSchema = z
  .object({
    id: z.int(),
    name: z.string(),
    user: z.string().optional().describe('The user it acts for; absent for a service token.'),
    scopes: z.array(permissionSchema),
    profiles: z.array(z.string()).optional(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    lastUsedAt: z.string().optional(),
  })
  .meta({ id: 'ApiToken' })

export const newTokenSchema = z.strictObject({
  name: z.string().min(1).max(100),
  user: username.optional().describe('The user it acts for (default: you).'),
  scopes: z.array(permissionSchema).min(1),
  profiles: profiles.optional(),
  expiresInDays: z.int().min(1).max(3650).optional().describe('Default 90.'),
})

export const createdTokenSchema = z
  .object({
    token: z.string().describe('The token: shown this once, stored only as a hash.'),
    info: tokenSchema,
  })
  .meta({ id: 'CreatedApiToken' })
