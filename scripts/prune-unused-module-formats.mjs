#!/usr/bin/env node
// Removes the bundler-only builds (build/esm, build/esnext) of packages that Node itself never
// loads: Node resolves `main` and the `import`/`require`/`node`/`default` conditions of
// `exports`, never `module` or `esnext`. A folder is deleted only when no Node-visible entry
// point of its package lies inside it. Used by the image build (scripts/prune-node-modules.sh).
//
// Usage: node scripts/prune-unused-module-formats.mjs [node_modules]
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? 'node_modules';
const NODE_CONDITIONS = new Set(['import', 'require', 'node', 'default']);
const CANDIDATES = ['build/esm', 'build/esnext'];

/** Every path Node could load through `exports` (only the conditions Node honours). */
function nodeTargets(exp, out = []) {
  if (typeof exp === 'string') out.push(exp);
  else if (Array.isArray(exp)) exp.forEach((e) => nodeTargets(e, out));
  else if (exp && typeof exp === 'object') {
    for (const [key, value] of Object.entries(exp)) {
      if (key.startsWith('.') || NODE_CONDITIONS.has(key)) nodeTargets(value, out);
    }
  }
  return out;
}

function packages(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    if (!d.isDirectory() || d.name.startsWith('.')) return [];
    const path = join(dir, d.name);
    if (d.name.startsWith('@')) return packages(path);
    const nested = join(path, 'node_modules');
    return [path, ...(existsSync(nested) ? packages(nested) : [])];
  });
}

let removed = 0;
for (const pkg of packages(root)) {
  const manifest = join(pkg, 'package.json');
  if (!existsSync(manifest)) continue;
  const p = JSON.parse(readFileSync(manifest, 'utf8'));
  const reachable = [p.main ?? 'index.js', ...nodeTargets(p.exports)].map((t) => t.replace(/^\.\//, ''));
  for (const folder of CANDIDATES) {
    if (!existsSync(join(pkg, folder))) continue;
    if (reachable.some((t) => t === folder || t.startsWith(`${folder}/`))) continue;
    rmSync(join(pkg, folder), { recursive: true, force: true });
    removed++;
  }
}
console.log(`prune-unused-module-formats: removed ${removed} bundler-only build folders`);
