import { open, stat } from 'node:fs/promises';

/**
 * Files written so that a crash leaves them whole or absent: the Parquet
 * dataset and the local staging area write every file to a temp name, sync it,
 * rename it over its final name, and sync the directory.
 */

/** Whether a file exists (any other error than ENOENT is thrown). */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

/** Syncs a file's content to disk. */
export async function fsyncFile(file: string): Promise<void> {
  // read-only is enough to sync, and works on a file another user wrote (a worker's, linked into place)
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Errors of a directory sync that mean the file system cannot sync directories (CIFS, some FUSE mounts). */
const NO_DIR_SYNC = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR']);

/** Makes renames and unlinks in `dir` durable (where the file system can sync a directory at all). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    if (!NO_DIR_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fh.close();
  }
}
