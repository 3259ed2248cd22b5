import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApiKeys, parseApiKeys } from '../../src/auth/api-keys.js';
import { SCOPES } from '../../src/auth/scopes.js';

const sha = (token: string): string => createHash('sha256').update(token).digest('hex');
const H1 = sha('token-one');
const H2 = sha('token-two');

describe('parseApiKeys', () => {
  it('parses keys, skipping comments and blank lines, with CRLF line ends', () => {
    const text = [
      '# ChittyID keys',
      '',
      `billing-svc ${H1} chittyid:mint,chittyid:read   # the billing service`,
      '   ',
      `ops@example.com\t${H2.toUpperCase()}\tchittyid:admin`,
    ].join('\r\n');
    const keys = parseApiKeys(text, 'keys.txt');
    expect(keys).toHaveLength(2);
    expect(keys[0]?.principal).toBe('billing-svc');
    expect(keys[0]?.tokenSha256.equals(Buffer.from(H1, 'hex'))).toBe(true);
    expect([...(keys[0]?.scopes ?? [])]).toEqual(['chittyid:mint', 'chittyid:read']);
    expect(keys[1]?.principal).toBe('ops@example.com');
    expect(keys[1]?.tokenSha256.equals(Buffer.from(H2, 'hex'))).toBe(true);
    expect([...(keys[1]?.scopes ?? [])]).toEqual(['chittyid:admin']);
  });

  it('returns no keys for a file of only comments', () => {
    expect(parseApiKeys('# nothing yet\n\n', 'k')).toEqual([]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['short hash', `svc ${H1.slice(2)} chittyid:mint`, /keys\.txt:3: token hash must be 64 hex characters.*got 62/],
    ['long hash', `svc ${H1}00 chittyid:mint`, /keys\.txt:3: token hash must be 64 hex/],
    ['non-hex hash', `svc ${'g'.repeat(64)} chittyid:mint`, /keys\.txt:3: token hash/],
    ['unknown scope', `svc ${H1} chittyid:mint,chittyid:write`, /keys\.txt:3: unknown scope "chittyid:write"/],
    ['empty scope', `svc ${H1} chittyid:mint,`, /keys\.txt:3: unknown scope ""/],
    ['missing scopes', `svc ${H1}`, /keys\.txt:3: expected .* got 2 field/],
    ['extra field', `svc ${H1} chittyid:mint extra`, /keys\.txt:3: expected .* got 4 field/],
    ['bad principal chars', `svc/a ${H1} chittyid:mint`, /keys\.txt:3: principal must be/],
    ['overlong principal', `${'a'.repeat(129)} ${H1} chittyid:mint`, /keys\.txt:3: principal must be/],
    ['duplicate hash', `other ${H2.toUpperCase()} chittyid:read`, /keys\.txt:3: duplicate token hash \(first seen on line 2\)/],
  ];
  it.each(bad)('rejects a %s, naming the source and line', (_name, line, message) => {
    const text = `# header\nfirst ${H2} chittyid:read\n${line}\n`;
    expect(() => parseApiKeys(text, 'keys.txt')).toThrow(message);
  });

  it('accepts a 128-character principal of every allowed character', () => {
    const principal = 'Az09._:@-'.repeat(14).padEnd(128, 'x');
    expect(principal).toHaveLength(128);
    expect(parseApiKeys(`${principal} ${H1} chittyid:read`, 'k')[0]?.principal).toBe(principal);
  });

  it('round-trips any valid key line', () => {
    const principal = fc.stringMatching(/^[A-Za-z0-9._:@-]{1,128}$/);
    const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const scopes = fc.uniqueArray(fc.constantFrom(...SCOPES), { minLength: 1 });
    fc.assert(
      fc.property(principal, hash, scopes, (p, h, s) => {
        const [key] = parseApiKeys(`${p} ${h} ${s.join(',')}`, 'k');
        expect(key?.principal).toBe(p);
        expect(key?.tokenSha256.toString('hex')).toBe(h);
        expect([...(key?.scopes ?? [])].sort()).toEqual([...s].sort());
      }),
    );
  });
});

describe('loadApiKeys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chittyid-keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and names it in line errors', () => {
    const good = join(dir, 'good.txt');
    writeFileSync(good, `svc ${H1} chittyid:mint\n`);
    expect(loadApiKeys(good).map((k) => k.principal)).toEqual(['svc']);

    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, `svc ${H1} chittyid:nope\n`);
    expect(() => loadApiKeys(bad)).toThrow(`${bad}:1: unknown scope`);
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadApiKeys(join(dir, 'missing.txt'))).toThrow(/^cannot read .*missing\.txt \(ENOENT\)$/);
  });

  it('refuses a file without any key, which would lock every caller out', () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '# no keys\n');
    expect(() => loadApiKeys(empty)).toThrow(`${empty} contains no keys`);
  });
});
