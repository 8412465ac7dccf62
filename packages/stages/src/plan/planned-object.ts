import type { ObjectInfo, SourceFormat } from '@pv-pipeline/core';

/** One source object the run must transform (or that was skipped). */
export interface PlannedObject extends ObjectInfo {
  format: SourceFormat;
  /** From the key, or from its system folder when the key is outside the layout. */
  ssId: number;
  /** `YYYY-MM-DD` from the key; null when the key is outside the layout (it will fail with the reason). */
  day: string | null;
  /**
   * A prize part the file no longer has (see retiredPrizeParts): its
   * transform reads nothing and yields an empty manifest, whose commit deletes
   * the part's earlier rows.
   */
  retired?: true;
}
