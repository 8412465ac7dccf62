/**
 * A staging directory that can be made full or unwritable for a while.
 *
 * As root with mount rights it is a small tmpfs of its own: `fill()` writes a
 * filler file until the file system is full (ENOSPC), `readOnly()` remounts it
 * read-only (EROFS; root ignores file modes, so a chmod would not stop it).
 * Otherwise it is a plain directory: `readOnly()` is `chmod 0500` (EACCES for
 * the non-root services) and a full disk cannot be made (`canFill` is false).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** A staging directory with faults on demand. */
export interface StagingFault {
  readonly dir: string;
  /** `tmpfs` (root: disk full and read-only remounts) or `chmod` (no full disk). */
  readonly mode: 'tmpfs' | 'chmod';
  readonly canFill: boolean;
  /** False as root without mount rights (no file mode stops root). */
  readonly canMakeReadOnly: boolean;
  /** Fills the file system (writes fail with ENOSPC) until {@link StagingFault.unfill}. */
  fill(): void;
  unfill(): void;
  /** Makes the directory unwritable until {@link StagingFault.writable}. */
  readOnly(): void;
  writable(): void;
  /** Unmounts (tmpfs) and removes the directory. */
  destroy(): void;
}

/** Creates `dir` as a 32 MB tmpfs when mounting works here, else as a plain directory. */
export function openStagingFault(dir: string, sizeMb = 32): StagingFault {
  mkdirSync(dir, { recursive: true });
  const filler = join(dir, '.filler');
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0777`, 'pv-chaos-staging', dir], {
      stdio: 'ignore',
    });
    mounted = true;
  } catch {
    chmodSync(dir, 0o777);
  }
  const remount = (how: 'ro' | 'rw') => execFileSync('mount', ['-o', `remount,${how}`, dir], { stdio: 'ignore' });
  return {
    dir,
    mode: mounted ? 'tmpfs' : 'chmod',
    canFill: mounted,
    canMakeReadOnly: mounted || process.getuid?.() !== 0,
    fill() {
      if (!mounted) throw new Error('a full disk needs the tmpfs (root with mount rights)');
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(1 << 20, 1);
      try {
        for (;;) writeSync(fd, block); // until ENOSPC
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    unfill() {
      rmSync(filler, { force: true });
    },
    readOnly() {
      if (mounted) remount('ro');
      else chmodSync(dir, 0o500);
    },
    writable() {
      if (mounted) remount('rw');
      else chmodSync(dir, 0o777);
    },
    destroy() {
      if (mounted) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
