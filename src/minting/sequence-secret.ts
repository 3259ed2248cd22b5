import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { generateSequenceSecret } from './sequence-key.js';

/**
 * The sequence secret: CHITTYID_SEQUENCE_KEY(_FILE) when set. The embedded default (no
 * DATABASE_URL) generates one on first start and keeps it beside its database, mode 0600.
 * With PostgreSQL the key must be configured, because every replica needs the same one.
 */
export function resolveSequenceSecret(config: Config): string {
  if (config.sequenceKey !== undefined) return config.sequenceKey;
  if (config.databaseUrl !== undefined) {
    throw new ConfigError('CHITTYID_SEQUENCE_KEY: required with DATABASE_URL (every replica must use the same key; set it or CHITTYID_SEQUENCE_KEY_FILE)');
  }
  const file = join(config.dataDir, 'sequence.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.dataDir, { recursive: true });
  const secret = generateSequenceSecret();
  // 'wx' fails if another process created the file first; then its key is the one to use.
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
}
