import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'
import { OpenSyncError } from '../../sdk/errors.ts'

/**
 * scrypt's cost: N = 2^15, r = 8, p = 1 takes 32 MiB and about 50–100 ms per hash here,
 * OWASP's recommended minimum for scrypt. Stored with each hash, so raising it later keeps
 * old hashes verifiable.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const
const KEY_BYTES = 32
const SALT_BYTES = 16

/** The shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 10

function derive(password: string, salt: Buffer, cost: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem above the 128·N·r bytes scrypt needs (Node's default is exactly 32 MiB).
    scrypt(password, salt, KEY_BYTES, { ...cost, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    )
  })
}

/** `scrypt$N$r$p$salt$hash` (base64url), for storing. */
export async function hashPassword(password: string): Promise<string> {
  checkPassword(password)
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, COST)
  return [
    'scrypt',
    COST.N,
    COST.r,
    COST.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$')
}

/** True when the password matches the stored hash; compared in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const key = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/**
 * A hash no password matches, made once: verifying against it when a user does not exist
 * costs as long as a real check, so the answer's timing does not tell which names exist.
 */
let decoy: Promise<string> | undefined
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(24).toString('base64url'))
  return decoy
}

/** OSY_INVALID_REQUEST unless the password is long enough (and not absurdly long). */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > 1024) {
    throw new OpenSyncError(
      'OSY_INVALID_REQUEST',
      `a password needs at least ${MIN_PASSWORD_LENGTH} characters (at most 1024)`,
      { details: { field: 'password' } },
    )
  }
}
