import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { QualityJson } from './quality-json.js';

/** The `quality.json` of an existing report directory, or null when there is none (or it is unreadable). */
export async function readQualityJson(dir: string): Promise<QualityJson | null> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, 'quality.json'), 'utf8')) as QualityJson;
    return Array.isArray(parsed.systems) ? parsed : null;
  } catch {
    return null;
  }
}
