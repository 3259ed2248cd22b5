import { readFileSync } from 'node:fs';

/**
 * Reads `NAME`, or the file named by `NAME_FILE` (Docker/Swarm secrets under /run/secrets).
 * Setting both is an error so that a stale value can never silently win.
 */
export function readSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct !== undefined && direct !== '' && file !== undefined && file !== '') {
    throw new Error(`${name} and ${name}_FILE are both set; set only one`);
  }
  if (file !== undefined && file !== '') {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return direct === '' ? undefined : direct;
}
