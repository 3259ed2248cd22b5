import { describe, expect, it } from 'vitest';
import { checksumOf } from '../../src/minting/checksum.js';

describe('checksum (SPEC §1 public rule)', () => {
  it.each([
    ['031USA0001P26090', '15'],
    ['031USA0001A26013', '84'],
    ['031USA4448P26090', '88'],
    ['041USA493027518264P26120', '90'],
  ])('body %s → %s', (body, expected) => {
    expect(checksumOf(body)).toBe(expected);
  });

  it('always yields two digits, padding with a zero', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(checksumOf(`041USA${String(i).padStart(12, '0')}P26120`));
    for (const c of seen) expect(c).toMatch(/^\d{2}$/);
    expect([...seen].some((c) => c.startsWith('0'))).toBe(true);
  });

  it('detects every single-digit substitution in a body', () => {
    const body = '041USA493027518264P26120';
    const good = checksumOf(body);
    for (let i = 0; i < body.length; i++) {
      if (!/\d/.test(body[i]!)) continue;
      for (let d = 0; d <= 9; d++) {
        if (String(d) === body[i]) continue;
        expect(checksumOf(body.slice(0, i) + d + body.slice(i + 1))).not.toBe(good);
      }
    }
  });

  it('rejects characters outside 0-9 and A-Z', () => {
    expect(() => checksumOf('04-1')).toThrow(RangeError);
    expect(() => checksumOf('041usa')).toThrow(RangeError);
  });
});
