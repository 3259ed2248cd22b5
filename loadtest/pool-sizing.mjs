#!/usr/bin/env node
// Worker-pool sizing: Mint and MintBatch throughput with UV_THREADPOOL_SIZE 1, 2, 4 and 16 (one
// fresh service per size). A thin alias of `node loadtest/run.mjs --pool-sizes …`; extra flags pass through.
//
//   node loadtest/pool-sizing.mjs [--pool-sizes 1,2,4,16] [--duration 8s] [--skip-build]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (!args.includes('--pool-sizes')) args.push('--pool-sizes', '1,2,4,16');
if (!args.includes('--duration')) args.push('--duration', '8s');
const r = spawnSync(process.execPath, [fileURLToPath(new URL('./run.mjs', import.meta.url)), ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
