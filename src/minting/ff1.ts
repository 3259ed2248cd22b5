import { createCipheriv, type Cipher } from 'node:crypto';

/**
 * FF1 format-preserving encryption (NIST SP 800-38G) over decimal strings of `digits` digits,
 * with an empty tweak: a keyed bijection on 0 … 10^digits − 1. Used to turn the sequence counter
 * into a 12-digit sequence that does not reveal its neighbours.
 *
 * Written here rather than taken from npm because the packages there are unmaintained or use a
 * home-made round function; this one is checked against the NIST sample vectors in the tests.
 * It works on whole batches: each of the 10 Feistel rounds is one AES-ECB call over every item,
 * because with an empty tweak the CBC-MAC of P‖Q collapses to AES(AES(P) ⊕ Q).
 */
export interface Ff1 {
  readonly digits: number;
  /** Encrypts each value in place (values must be integers in 0 … 10^digits − 1). */
  encryptInPlace(values: Float64Array): void;
  encrypt(value: number): number;
}

const ROUNDS = 10;

export function createFf1(key: Buffer, digits: number): Ff1 {
  if (![16, 24, 32].includes(key.length)) throw new RangeError('FF1 key must be 16, 24 or 32 bytes');
  // Two halves up to 7 digits keep every intermediate below 2^53, so plain numbers suffice.
  if (!Number.isInteger(digits) || digits < 2 || digits > 14) throw new RangeError('FF1 digits must be 2 … 14');
  const u = Math.floor(digits / 2);
  const v = digits - u;
  const modU = 10 ** u;
  const modV = 10 ** v;
  const b = Math.ceil(Math.ceil(v * Math.log2(10)) / 8);
  const d = 4 * Math.ceil(b / 4) + 4;
  if (d !== 8) throw new RangeError('unsupported FF1 size'); // true for all digits ≤ 14 with radix 10

  const cipher: Cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  cipher.setAutoPadding(false);
  const aes = (block: Buffer): Buffer => cipher.update(block);

  // P = [1]¹ [2]¹ [1]¹ [radix]³ [10]¹ [u mod 256]¹ [n]⁴ [t]⁴, encrypted once.
  const p = Buffer.alloc(16);
  p.set([1, 2, 1, 0, 0, 10, 10, u % 256], 0);
  p.writeUInt32BE(digits, 8);
  p.writeUInt32BE(0, 12);
  const encryptedP = aes(p);
  // Q = [0]^(16−b−1) [i]¹ [NUM(B)]^b; only its last b+1 bytes vary.
  const roundIndexAt = 15 - b;
  const two32 = 2 ** 32;

  let scratch = Buffer.alloc(0);

  function encryptInPlace(values: Float64Array): void {
    const count = values.length;
    if (scratch.length < count * 16) scratch = Buffer.alloc(count * 16);
    const a = new Float64Array(count);
    const bHalf = new Float64Array(count);
    for (let j = 0; j < count; j++) {
      const x = values[j]!;
      a[j] = Math.floor(x / modV);
      bHalf[j] = x - a[j]! * modV;
    }
    for (let i = 0; i < ROUNDS; i++) {
      const m = i % 2 === 0 ? modU : modV;
      for (let j = 0; j < count; j++) {
        const off = j * 16;
        encryptedP.copy(scratch, off);
        scratch[off + roundIndexAt] = scratch[off + roundIndexAt]! ^ i;
        let num = bHalf[j]!;
        for (let k = 15; k > roundIndexAt; k--) {
          scratch[off + k] = scratch[off + k]! ^ (num % 256);
          num = Math.floor(num / 256);
        }
      }
      const r = aes(scratch.subarray(0, count * 16));
      for (let j = 0; j < count; j++) {
        const off = j * 16;
        const hi = r.readUInt32BE(off) % m;
        const lo = r.readUInt32BE(off + 4) % m;
        const y = (hi * (two32 % m) + lo) % m;
        const c = (a[j]! + y) % m;
        a[j] = bHalf[j]!;
        bHalf[j] = c;
      }
    }
    for (let j = 0; j < count; j++) values[j] = a[j]! * modV + bHalf[j]!;
  }

  return {
    digits,
    encryptInPlace,
    encrypt(value: number): number {
      const one = new Float64Array([value]);
      encryptInPlace(one);
      return one[0]!;
    },
  };
}
