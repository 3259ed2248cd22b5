#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package,
// and inclusive time of chosen frames, so a profile taken under load can be read in a terminal.
//
//   node loadtest/profile-summary.mjs <file.cpuprofile> [--top 30] [--match name,name]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, match: { type: 'string' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: profile-summary.mjs <file.cpuprofile> [--top N] [--match fn1,fn2]');
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample counts weighted by their time deltas.
const self = new Map();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((s, v) => s + v, 0);
const idle = [...self].filter(([id]) => ['(idle)', '(program)'].includes(byId.get(id).callFrame.functionName)).reduce((s, [, v]) => s + v, 0);

const where = (cf) => {
  const u = cf.url.replace(/^file:\/\//, '');
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (m) return m[1];
  if (u.includes('/dist/src/')) return 'app:' + u.split('/dist/src/')[1];
  if (u.includes('/dist/workers/')) return 'app:workers/' + u.split('/dist/workers/')[1];
  if (u.startsWith('node:')) return u;
  return u ? u : '(native)';
};
const fnKey = (cf) => `${cf.functionName || '(anonymous)'} ${where(cf)}:${cf.lineNumber + 1}`;

const fnSelf = new Map(), pkgSelf = new Map();
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  fnSelf.set(fnKey(cf), (fnSelf.get(fnKey(cf)) ?? 0) + t);
  const pkg = ['(idle)', '(program)', '(garbage collector)'].includes(cf.functionName) ? cf.functionName : where(cf).replace(/^(app:[^/]+).*/, '$1');
  pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + t);
}
const pct = (t) => ((100 * t) / total).toFixed(1).padStart(5) + '%';
const busy = total - idle;
console.log(`${file}\ntotal ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / total).toFixed(0)}%)\n`);
console.log('self time by package / area:');
for (const [k, t] of [...pkgSelf].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(t)}  ${k}`);
console.log(`\nself time by function (top ${opt.top}):`);
for (const [k, t] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, Number(opt.top))) console.log(`  ${pct(t)}  ${k}`);

if (opt.match) {
  // Inclusive time of frames whose function name matches (each sample counted once per name).
  console.log('\ninclusive time:');
  for (const name of opt.match.split(',')) {
    let t = 0;
    for (const [id, dt] of self) {
      for (let n = id; n !== undefined; n = parent.get(n)) {
        if (byId.get(n).callFrame.functionName === name) { t += dt; break; }
      }
    }
    console.log(`  ${pct(t)}  ${name}`);
  }
}
