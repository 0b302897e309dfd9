import { coerceError, isOpenSyncError, OpenSyncError } from '../../sdk/index.ts'

/**
 * Classifies an error of the file system for a person to act on: a folder that is not there,
 * permissions, a full disk. Errors the bridge made itself pass through.
 */
export function classifyFileError(
  error: unknown,
  path: string,
  recordType?: string,
): OpenSyncError {
  if (isOpenSyncError(error)) return error
  const code = (error as NodeJS.ErrnoException)?.code
  const details = { ...(code ? { systemCode: code } : {}), ...(recordType ? { recordType } : {}) }
  switch (code) {
    case 'ENOENT':
      return new OpenSyncError('OSY_UNKNOWN_DATABASE', `${path} does not exist`, {
        cause: error,
        details: { ...details, field: 'folder' },
      })
    case 'ENOTDIR':
      return new OpenSyncError('OSY_INVALID_CONNECTION', `${path} is not a folder`, {
        cause: error,
        details: { ...details, field: 'folder' },
      })
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new OpenSyncError(
        'OSY_INVALID_CONNECTION',
        `${path} cannot be read or written: check the permissions of the file and its folder`,
        { cause: error, details: { ...details, field: 'folder' } },
      )
    case 'ENOSPC':
    case 'EDQUOT':
      return new OpenSyncError('OSY_SYSTEM_ERROR', `no space left to write ${path}`, {
        cause: error,
        details,
      })
    case 'EISDIR':
      return new OpenSyncError('OSY_INVALID_CONNECTION', `${path} is a folder, not a file`, {
        cause: error,
        details,
      })
    default:
      return code
        ? new OpenSyncError('OSY_SYSTEM_ERROR', `${path}: ${(error as Error).message}`, {
            cause: error,
            details,
          })
        : coerceError(error, 'OSY_SYSTEM_ERROR')
  }
}

/** The error for a record type with no file. */
export function typeNotFound(name: string, folder: string, cause?: unknown): OpenSyncError {
  return new OpenSyncError(
    'OSY_RECORD_TYPE_NOT_FOUND',
    `no record type "${name}": there is no file ${name}.csv in ${folder} and the settings declare none`,
    { cause, details: { recordType: name } },
  )
}
