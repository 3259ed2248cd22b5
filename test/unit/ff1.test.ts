import { describe, expect, it } from 'vitest';
import { createFf1 } from '../../src/minting/ff1.js';
import { deriveSequenceKeys } from '../../src/minting/sequence-key.js';

const NIST_KEYS = {
  aes128: '2B7E151628AED2A6ABF7158809CF4F3C',
  aes192: '2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F',
  aes256: '2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94',
};

describe('FF1 (NIST SP 800-38G)', () => {
  // NIST FF1 samples 1, 4 and 7: radix 10, empty tweak, plaintext 0123456789.
  it.each([
    ['aes128', '2433477484'],
    ['aes192', '2830668132'],
    ['aes256', '6657667009'],
  ] as const)('matches the NIST sample vector for %s', (key, ciphertext) => {
    const ff1 = createFf1(Buffer.from(NIST_KEYS[key], 'hex'), 10);
    expect(String(ff1.encrypt(123456789)).padStart(10, '0')).toBe(ciphertext);
  });

  it.each([4, 5, 6])('is a bijection on the whole %i-digit domain (exhaustive)', (digits) => {
    const ff1 = createFf1(deriveSequenceKeys('x'.repeat(32)).ff1Key, digits);
    const size = 10 ** digits;
    const values = new Float64Array(size);
    for (let i = 0; i < size; i++) values[i] = i;
    ff1.encryptInPlace(values);
    const seen = new Uint8Array(size);
    let outOfRange = 0;
    for (const v of values) {
      if (Number.isInteger(v) && v >= 0 && v < size) seen[v] = 1;
      else outOfRange++;
    }
    expect(outOfRange).toBe(0);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(size);
  });

  it('on the real 12-digit domain: sampled outputs are in range, distinct, and consistent batch vs single', () => {
    const ff1 = createFf1(deriveSequenceKeys('y'.repeat(40)).ff1Key, 12);
    const n = 200_000;
    const values = new Float64Array(n);
    // Samples from the start, the end and spread across the space.
    for (let i = 0; i < n; i++) values[i] = i < n / 2 ? i : 1e12 - 1 - (i - n / 2) * 4_999_999;
    const inputs = Float64Array.from(values);
    ff1.encryptInPlace(values);
    expect(new Set(values).size).toBe(n);
    expect(values.every((v) => v >= 0 && v < 1e12 && Number.isInteger(v))).toBe(true);
    for (let i = 0; i < n; i += 9973) expect(ff1.encrypt(inputs[i]!)).toBe(values[i]);
  });

  it('does not reveal neighbours: consecutive counters map far apart', () => {
    const ff1 = createFf1(deriveSequenceKeys('z'.repeat(32)).ff1Key, 12);
    let close = 0;
    for (let i = 0; i < 10_000; i++) if (Math.abs(ff1.encrypt(i + 1) - ff1.encrypt(i)) < 1e9) close++;
    // A random permutation puts ~0.2 % of neighbours within 10^9 of each other.
    expect(close).toBeLessThan(100);
  });

  it('depends on the key', () => {
    const a = createFf1(deriveSequenceKeys('a'.repeat(32)).ff1Key, 12);
    const b = createFf1(deriveSequenceKeys('b'.repeat(32)).ff1Key, 12);
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a.encrypt(i) === b.encrypt(i)) same++;
    expect(same).toBe(0);
  });

  it('rejects bad keys and sizes', () => {
    expect(() => createFf1(Buffer.alloc(15), 12)).toThrow(RangeError);
    expect(() => createFf1(Buffer.alloc(32), 1)).toThrow(RangeError);
    expect(() => createFf1(Buffer.alloc(32), 15)).toThrow(RangeError);
  });
});

describe('sequence keys', () => {
  it('derive a stable fingerprint that differs per key and is not the AES key', () => {
    const a = deriveSequenceKeys('k'.repeat(32));
    expect(deriveSequenceKeys('k'.repeat(32)).fingerprint).toBe(a.fingerprint);
    expect(deriveSequenceKeys(`${'k'.repeat(31)}j`).fingerprint).not.toBe(a.fingerprint);
    expect(a.fingerprint).not.toContain(a.ff1Key.toString('hex').slice(0, 16));
  });

  it('refuse a secret shorter than 32 characters', () => {
    expect(() => deriveSequenceKeys('short')).toThrow(RangeError);
  });
});
