#!/usr/bin/env node
// The protobuf cost of the 1000-ID MintBatchResponse (`npm run bench`): ts-proto's generated
// encoder (what the server runs today, through ChittyIdServiceService.mintBatch.responseSerialize)
// against protobufjs reflection and a hand-rolled writer of `repeated string ids = 1`.
// All encoders must produce identical bytes; the run fails otherwise.
//
//   npm run bench -- [--iterations 20000] [--count 1000]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { ROOT, fmt, table } from './lib.mjs';

const { values: opt } = parseArgs({
  options: { iterations: { type: 'string', default: '20000' }, count: { type: 'string', default: '1000' } },
});
const N = Number(opt.iterations);
const COUNT = Number(opt.count);

const gen = await import(join(ROOT, 'dist', 'src', 'gen', 'chittyid', 'v1', 'chittyid.js'));
const { formatId, yymmOf } = await import(join(ROOT, 'dist', 'src', 'minting', 'id-writer.js'));
const protobuf = createRequire(join(ROOT, 'node_modules', '@grpc', 'proto-loader', 'package.json'))('protobufjs');

// 1000 realistic, distinct v04 IDs (33 ASCII characters each), as MintBatch returns them.
const yymm = yymmOf(Date.now());
const ids = Array.from({ length: COUNT }, (_, i) => formatId({
  version: '04', region: 1, jurisdiction: 'USA', sequence: String((i * 387_420_489) % 1e12).padStart(12, '0'),
  entityType: 'T', yymm, trustLevel: 0,
}));
const message = { ids };

// protobufjs reflection, loaded from the contract file (the way @grpc/proto-loader does).
const root = new protobuf.Root();
root.resolvePath = (origin, target) => (target.startsWith('google/protobuf/') ? target : join(ROOT, 'proto', target));
root.loadSync('chittyid/v1/chittyid.proto', { keepCase: true });
const PbjsResponse = root.lookupType('chittyid.v1.MintBatchResponse');

/** `repeated string ids = 1`: tag 0x0a, varint length, UTF-8 bytes, written into one Buffer. */
function handRolled(value) {
  const list = value.ids;
  let size = 0;
  const lens = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const n = Buffer.byteLength(list[i], 'utf8');
    lens[i] = n;
    size += 1 + (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5) + n;
  }
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  for (let i = 0; i < list.length; i++) {
    buf[o++] = 0x0a;
    let n = lens[i];
    while (n > 0x7f) { buf[o++] = (n & 0x7f) | 0x80; n >>>= 7; }
    buf[o++] = n;
    o += buf.utf8Write(list[i], o);
  }
  return buf;
}

const encoders = {
  'ts-proto encode().finish()': () => gen.MintBatchResponse.encode(message).finish(),
  'ts-proto responseSerialize (server today)': () => gen.ChittyIdServiceService.mintBatch.responseSerialize(message),
  'protobufjs reflection encode().finish()': () => PbjsResponse.encode(message).finish(),
  'hand-rolled Buffer writer': () => handRolled(message),
};

// Identical bytes, or the comparison means nothing.
const reference = Buffer.from(encoders['ts-proto encode().finish()']());
for (const [name, f] of Object.entries(encoders)) {
  const out = Buffer.from(f());
  if (!out.equals(reference)) throw new Error(`${name} produced different bytes (${out.length} vs ${reference.length})`);
}
const decoded = gen.MintBatchResponse.decode(reference);
if (decoded.ids.length !== COUNT || decoded.ids[COUNT - 1] !== ids[COUNT - 1]) throw new Error('reference bytes do not decode back');

function bench(f) {
  for (let i = 0; i < Math.min(2000, N); i++) f(); // warm-up: let the JIT settle
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += f().length;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  if (sink !== N * reference.length) throw new Error('length mismatch');
  return ns;
}

const rows = [];
// Two rounds, best of each, so a noisy neighbour on the shared cores shows up as a disagreement.
const best = {};
for (let round = 0; round < 2; round++) {
  for (const [name, f] of Object.entries(encoders)) best[name] = Math.min(best[name] ?? Infinity, bench(f));
}
const base = best['ts-proto responseSerialize (server today)'];
for (const [name, ns] of Object.entries(best)) {
  rows.push([name, fmt(ns / 1000, 1), fmt((reference.length / ns) * 1e3, 0), fmt(base / ns, 2) + '×']);
}
console.log(`MintBatchResponse with ${COUNT} IDs = ${reference.length} bytes; ${N} iterations × 2 rounds (best); node ${process.version}; all encoders byte-identical ✓\n`);
console.log(table(['encoder', 'µs/op', 'MB/s', 'speed vs server today'], rows));
