import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { secretError } from './secrets-errors.ts'
import {
  loadSecretKey,
  SECRET_KEY_BYTES,
  SECRET_KEY_ENV,
  type SecretKeyOptions,
} from './secrets-key.ts'

const VERSION = 'osy1'
const IV_BYTES = 12
const TAG_BYTES = 16
// Any version, so a value written by a newer release is recognised (and refused), not re-sealed.
const SEALED = /^osy(\d+):([0-9a-f]{8}):([A-Za-z0-9_-]*):([A-Za-z0-9_-]*):([A-Za-z0-9_-]*)$/

/** True when `value` is a sealed secret (`osy1:<keyId>:<iv>:<ciphertext>:<tag>`). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && SEALED.test(value)
}

/** The id of a key: the first 8 hex characters of its SHA-256. Safe to show and log. */
export function secretKeyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8)
}

/**
 * Encrypts and decrypts secret values with AES-256-GCM. Each value gets a random 12-byte IV
 * and a 16-byte tag, and is written as `osy1:<keyId>:<iv>:<ciphertext>:<tag>` (base64url).
 * The key id lets {@link decrypt} tell a wrong key from a damaged value, and the version and
 * key id are authenticated too (as GCM additional data), so no part can be swapped unnoticed.
 * Decryption fails closed: it returns the original text or throws, never anything else.
 *
 * @example
 * const box = await openSecretBox({ dataDir: '.data' })
 * const sealed = box.encrypt('S3cr3t-pw!') // 'osy1:9f8e7d6c:…'
 * box.decrypt(sealed) // 'S3cr3t-pw!'
 */
export class SecretBox {
  /** The id of this box's key (first 8 hex characters of its SHA-256). */
  readonly keyId: string
  /** Where the key came from: `OPENSYNC_SECRET_KEY`, a key file's path, or a caller's words. */
  readonly source: string
  readonly #key: Buffer

  /** A box for a 32-byte key. */
  constructor(key: Uint8Array, source = 'the key given') {
    if (key.length !== SECRET_KEY_BYTES) {
      throw secretError(
        'key-invalid',
        `a secret key must be ${SECRET_KEY_BYTES} bytes, not ${key.length}`,
      )
    }
    this.#key = Buffer.from(key)
    this.keyId = secretKeyId(this.#key)
    this.source = source
  }

  /** Seals `plain` with a fresh IV: the same text gives a different result each time. */
  encrypt(plain: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(`${VERSION}:${this.keyId}`))
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
    const tag = cipher.getAuthTag()
    return [
      VERSION,
      this.keyId,
      iv.toString('base64url'),
      ciphertext.toString('base64url'),
      tag.toString('base64url'),
    ].join(':')
  }

  /**
   * Opens a value sealed by {@link encrypt}. Throws (`details.reason`) `key-mismatch` when it
   * was sealed with another key, and `corrupt` when it is malformed or was changed.
   */
  decrypt(text: string): string {
    const match = SEALED.exec(text)
    if (!match) throw corrupt('is not a sealed secret (expected osy1:<keyId>:<iv>:<data>:<tag>)')
    const [, version, keyId, iv64, data64, tag64] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    if (`osy${version}` !== VERSION) {
      throw corrupt(
        `was sealed in format osy${version}, which this version of OpenSync cannot read`,
      )
    }
    if (keyId !== this.keyId) {
      const orFile =
        this.source === SECRET_KEY_ENV ? '' : ` (or put the original ${this.source} back)`
      throw secretError(
        'key-mismatch',
        `stored secrets were encrypted with key ${keyId}, but the current key (from ${this.source}) is ${this.keyId}: set ${SECRET_KEY_ENV} to the original key${orFile}`,
        { details: { storedKeyId: keyId, currentKeyId: this.keyId } },
      )
    }
    const iv = Buffer.from(iv64, 'base64url')
    const tag = Buffer.from(tag64, 'base64url')
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw corrupt('is damaged (wrong IV or tag length)')
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
      decipher.setAAD(Buffer.from(`${VERSION}:${keyId}`))
      decipher.setAuthTag(tag)
      const plain = Buffer.concat([
        decipher.update(Buffer.from(data64, 'base64url')),
        decipher.final(),
      ])
      return plain.toString('utf8')
    } catch (cause) {
      throw corrupt('was changed or damaged (its authentication tag does not match)', cause)
    }
  }

  /** Only the key id: a box in a log line or a JSON dump shows no key material. */
  toJSON(): { keyId: string; source: string } {
    return { keyId: this.keyId, source: this.source }
  }
}

/**
 * A box with the key from OPENSYNC_SECRET_KEY or the data folder's key file (see
 * {@link loadSecretKey}, which also tells whether the key file was just created).
 */
export async function openSecretBox(options: SecretKeyOptions): Promise<SecretBox> {
  const { key, source } = await loadSecretKey(options)
  return new SecretBox(key, source)
}

function corrupt(what: string, cause?: unknown) {
  return secretError('corrupt', `a stored secret ${what}`, { cause })
}
