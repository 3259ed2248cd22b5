import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startService, startPostgres, freshDatabase, ensureGhz, ensureH2load, runGhz, runH2load, writeH2loadBodies, H2LOAD_PATHS, LOADTEST } from '/work/main/loadtest/lib.mjs';
const HZ = 100;
const snap = (pid) => { const m = new Map(); for (const t of readdirSync(`/proc/${pid}/task`)) { try { const raw = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'); const name = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')); const f = raw.split(') ')[1].split(' '); m.set(t, { name, ticks: +f[11] + +f[12] }); } catch {} } return m; };
const ghz = ensureGhz(), h2 = ensureH2load();
const db = await freshDatabase(startPostgres(), 'chittyid_loadtest');
const svc = await startService({ databaseUrl: db, sequenceKey: 'chittyid-loadtest-sequence-key-not-a-secret-0001', poolSize: 2, logFile: '/tmp/thread-cpu-svc.log' });
const bodies = await writeH2loadBodies('/tmp/h2bodies');
runGhz(ghz, join(LOADTEST, 'mint.json'), { target: svc.target, duration: '3s', output: '/tmp/tc-warm.json' });
const comm=(p)=>{try{return readFileSync(`/proc/${p}/comm`,'utf8').trim()}catch{return ''}};
const pgT=()=>{let s=0;for(const p of readdirSync('/proc').filter(d=>/^\d+$/.test(d)))if(comm(p).startsWith('postgres')){try{const f=readFileSync(`/proc/${p}/stat`,'utf8').split(') ')[1].split(' ');s+=+f[11]+ +f[12]}catch{}}return s};
const mach=()=>{const f=readFileSync('/proc/stat','utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);const t=f.reduce((a,b)=>a+b,0);return{busy:t-f[3]-f[4],total:t}};
for (const sc of ['check', 'mint', 'check', 'mint']) {
  const p0=pgT(), m0=mach();
  const a = snap(svc.pid), t0 = performance.now();
  const r = runH2load(h2, { target: svc.target, path: H2LOAD_PATHS[sc], bodyFile: bodies[sc], seconds: 8, logFile: `/tmp/tc-${sc}.log` });
  const el = (performance.now() - t0) / 1000;
  const b = snap(svc.pid); const p1=pgT(), m1=mach();
  const per = {};
  let total = 0;
  for (const [t, v] of b) { const d = (v.ticks - (a.get(t)?.ticks ?? 0)) / HZ; total += d; const k = t === String(svc.pid) ? 'main' : 'other'; per[k] = +(((per[k] ?? 0) + d / el * 100)).toFixed(1); }
  console.log(JSON.stringify({ sc, rps: Math.round(r.rps), totalPct: +(total / el * 100).toFixed(0), usPerCall: +(total / (r.rps * el) * 1e6).toFixed(1), pgPct: +((p1-p0)/HZ/el*100).toFixed(0), machinePct: +((m1.busy-m0.busy)/(m1.total-m0.total)*200).toFixed(0), p50: r.p50, p99: r.p99, per }));
}
await svc.stop();
