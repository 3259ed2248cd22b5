#!/usr/bin/env node
// The protobuf cost of the 1000-ID MintBatchResponse (`npm run bench`): ts-proto's generated
// encoder against protobufjs reflection and the one-pass encoder the server uses
// (src/grpc/mint-batch-response.codec.ts, installed as mintBatch's responseSerialize).
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

const { encodeMintBatchResponse } = await import(join(ROOT, 'dist', 'src', 'grpc', 'mint-batch-response.codec.js'));

const encoders = {
  'ts-proto encode().finish()': () => gen.MintBatchResponse.encode(message).finish(),
  'ts-proto responseSerialize (generated service definition)': () => gen.ChittyIdServiceService.mintBatch.responseSerialize(message),
  'protobufjs reflection encode().finish()': () => PbjsResponse.encode(message).finish(),
  'one-pass encoder (server today)': () => encodeMintBatchResponse(message),
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
const base = best['ts-proto responseSerialize (generated service definition)'];
for (const [name, ns] of Object.entries(best)) {
  rows.push([name, fmt(ns / 1000, 1), fmt((reference.length / ns) * 1e3, 0), fmt(base / ns, 2) + '×']);
}
console.log(`MintBatchResponse with ${COUNT} IDs = ${reference.length} bytes; ${N} iterations × 2 rounds (best); node ${process.version}; all encoders byte-identical ✓\n`);
console.log(table(['encoder', 'µs/op', 'MB/s', 'speed vs ts-proto responseSerialize'], rows));
