import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The service version from the nearest package.json named "chittyid", looked up from this file
 * so it works from both src/ (tests) and dist/src/ (production); 'unknown' if none is found.
 */
export function serviceVersion(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  for (let dir = dirname(fileURLToPath(import.meta.url)), depth = 0; depth < 6; dir = dirname(dir), depth++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'chittyid' && typeof pkg.version === 'string') {
        cached = pkg.version;
        break;
      }
    } catch {
      // No (readable) package.json at this level; keep walking up.
    }
  }
  return cached;
}
