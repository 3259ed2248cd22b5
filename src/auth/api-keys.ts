import { readFileSync } from 'node:fs';
import { isScope, SCOPES, type Scope } from './scopes.js';

/** One entry of CHITTYID_API_KEYS_FILE: who the token belongs to, its hash and what it may do. */
export interface ApiKey {
  readonly principal: string;
  /** SHA-256 of the bearer token (32 bytes); the token itself is never stored. */
  readonly tokenSha256: Buffer;
  readonly scopes: ReadonlySet<Scope>;
}

// Principals end up in logs, metrics labels and the database, so keep them to a safe alphabet.
const PRINCIPAL = /^[A-Za-z0-9._:@-]{1,128}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * Parses the keys file format (SPEC §4): one key a line, `<principal> <sha256-hex> <scope>[,<scope>…]`,
 * with `#` comments and blank lines. Throws an Error naming `source` and the line number for the
 * first bad line; the message never contains the line's hash, only what is wrong with it.
 */
export function parseApiKeys(text: string, source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1;
    const fail = (problem: string): never => {
      throw new Error(`${source}:${lineNo}: ${problem}`);
    };
    const hashAt = raw.indexOf('#');
    const line = (hashAt === -1 ? raw : raw.slice(0, hashAt)).trim();
    if (line === '') continue;

    const fields = line.split(/\s+/);
    if (fields.length !== 3) fail(`expected "<principal> <sha256-hex> <scope>[,<scope>…]", got ${fields.length} field(s)`);
    const [principal = '', hex = '', scopeList = ''] = fields;

    if (!PRINCIPAL.test(principal)) fail('principal must be 1–128 characters of A-Z a-z 0-9 . _ : @ -');
    if (!SHA256_HEX.test(hex)) fail(`token hash must be 64 hex characters (SHA-256), got ${hex.length} characters`);
    const normalised = hex.toLowerCase();
    const firstLine = seen.get(normalised);
    if (firstLine !== undefined) fail(`duplicate token hash (first seen on line ${firstLine})`);
    seen.set(normalised, lineNo);

    const scopes = new Set<Scope>();
    for (const scope of scopeList.split(',')) {
      if (!isScope(scope)) fail(`unknown scope "${scope}" (known: ${SCOPES.join(', ')})`);
      else scopes.add(scope);
    }
    keys.push(Object.freeze({ principal, tokenSha256: Buffer.from(normalised, 'hex'), scopes }));
  }
  return keys;
}

/**
 * Reads and parses an API keys file. Errors name the file (and line) but not the variable, which
 * the caller adds (`CHITTYID_API_KEYS_FILE: …`).
 */
export function loadApiKeys(path: string): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const keys = parseApiKeys(text, path);
  // An empty file would lock every caller out; that is a misconfiguration, not a policy.
  if (keys.length === 0) throw new Error(`${path} contains no keys`);
  return keys;
}
