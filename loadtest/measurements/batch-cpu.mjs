import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { startService, startPostgres, freshDatabase, ensureGhz } from '/work/main/loadtest/lib.mjs';
const HZ = 100;
const ticks = (pid) => { try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return +f[11] + +f[12]; } catch { return 0; } };
const comm = (pid) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
const pgTicks = () => { let s = 0; for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) if (comm(p).startsWith('postgres')) s += ticks(p); return s; };
const machine = () => { const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number); const t = f.reduce((a, b) => a + b, 0); return { busy: t - f[3] - f[4], total: t }; };
const ghz = ensureGhz();
const db = await freshDatabase(startPostgres(), 'chittyid_loadtest');
const svc = await startService({ databaseUrl: db, sequenceKey: 'chittyid-loadtest-sequence-key-not-a-secret-0001', poolSize: 2, logFile: '/tmp/batch-cpu-svc.log' });
const cfg = '/work/main/loadtest/mint-batch.json';
spawnSync(ghz, ['--config', cfg, '--duration', '3s', '-O', 'json', '-o', '/tmp/batch-warm.json', svc.target]);
for (let round = 1; round <= 2; round++) {
  const s0 = ticks(svc.pid), p0 = pgTicks(), m0 = machine(), t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', ghz, '--config', cfg, '--duration', '8s', '-O', 'json', '-o', `/tmp/batch-${round}.json`, svc.target], { encoding: 'utf8' });
  const el = (performance.now() - t0) / 1000;
  const s1 = ticks(svc.pid), p1 = pgTicks(), m1 = machine();
  const [u, sy] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  const j = JSON.parse(readFileSync(`/tmp/batch-${round}.json`, 'utf8'));
  const ok = j.statusCodeDistribution?.OK ?? 0;
  console.log(JSON.stringify({ round, wall: +el.toFixed(2), okCalls: ok, idsPerSec: Math.round(ok * 1000 / el), svcCpuS: (s1 - s0) / HZ, pgCpuS: (p1 - p0) / HZ, ghzCpuS: +(u + sy).toFixed(2), machinePct: +((m1.busy - m0.busy) / (m1.total - m0.total) * 200).toFixed(0) }));
}
await svc.stop();
