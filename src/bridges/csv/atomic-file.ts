import { randomBytes } from 'node:crypto'
import { type FileHandle, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Points inside {@link replaceFile} where tests inject a failure or a crash. */
export interface ReplaceHooks {
  /** After the new content is written and synced, before it replaces the old file. */
  readonly beforeRename?: (tempFile: string) => void | Promise<void>
}

/**
 * Replaces a file as one step: the new content goes to a temporary file in the same folder,
 * which is synced and then renamed over the old one, and the folder is synced so the rename
 * itself is on disk. A crash at any moment leaves the old file or the new one, never part of
 * either; a failure before the rename removes the temporary file and leaves the old one.
 * The new file keeps the old one's permissions.
 */
export async function replaceFile(
  file: string,
  write: (handle: FileHandle) => Promise<void>,
  hooks: ReplaceHooks = {},
): Promise<void> {
  const folder = dirname(file)
  await removeStaleTemps(file)
  const temp = join(
    folder,
    `${tempPrefix(file)}${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  )
  const mode = await stat(file).then(
    (s) => s.mode & 0o7777,
    () => 0o666,
  )
  const handle = await open(temp, 'wx', mode)
  let renamed = false
  try {
    await write(handle)
    await handle.sync()
    await handle.close()
    await hooks.beforeRename?.(temp)
    await rename(temp, file)
    renamed = true
  } finally {
    if (!renamed) {
      await handle.close().catch(() => {})
      await rm(temp, { force: true })
    }
  }
  await syncFolder(folder)
}

/** Makes a folder's entries (a rename, a new file) durable. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r')
  try {
    await handle.sync()
  } catch (error) {
    // Some file systems cannot sync a directory; the rename is still atomic there.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error
  } finally {
    await handle.close()
  }
}

function tempPrefix(file: string): string {
  return `.${basename(file)}.`
}

/** Whether a name in the folder is a temporary file of {@link replaceFile}. */
export function isTempFile(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp')
}

/**
 * Removes temporary files a crashed writer of this file left behind: those whose process
 * is gone. A live writer's temporary file is left alone.
 */
async function removeStaleTemps(file: string): Promise<void> {
  const prefix = tempPrefix(file)
  const names = await readdir(dirname(file)).catch(() => [] as string[])
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue
    const pid = Number(name.slice(prefix.length).split('.')[0])
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      await rm(join(dirname(file), name), { force: true })
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
