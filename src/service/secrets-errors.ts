import { type ErrorCode, type ErrorDetails, OpenSyncError } from '../sdk/index.ts'

/**
 * Why a secret could not be protected or read. Travels as `details.reason`, so callers can
 * tell the cases apart whatever catalogue code carries them.
 *
 * - `key-invalid`: OPENSYNC_SECRET_KEY or the key file is malformed, unsafe or missing.
 * - `key-mismatch`: a value was sealed with another key than the current one.
 * - `corrupt`: a sealed value was changed or cut (the GCM tag does not match).
 */
export type SecretErrorReason = 'key-invalid' | 'key-mismatch' | 'corrupt'

// Requested catalogue codes: OSY_SECRET_KEY_INVALID, OSY_SECRET_KEY_MISMATCH, OSY_SECRET_CORRUPT.
// Until they exist the nearest codes stand in; this table is the one place to switch.
const CODES: Readonly<Record<SecretErrorReason, ErrorCode>> = {
  'key-invalid': 'OSY_SECRET_KEY_INVALID',
  'key-mismatch': 'OSY_SECRET_KEY_MISMATCH',
  corrupt: 'OSY_SECRET_CORRUPT',
}

/** An error about the secret key or a sealed value. Never put a key or a secret in `message`. */
export function secretError(
  reason: SecretErrorReason,
  message: string,
  options: { cause?: unknown; details?: ErrorDetails } = {},
): OpenSyncError {
  return new OpenSyncError(CODES[reason], message, {
    cause: options.cause,
    details: { ...options.details, reason },
  })
}
