#!/usr/bin/env node
// Fails when src/gen is out of date with proto/: regenerates (ts-proto stubs and the reflection
// descriptor set) into a scratch folder with the same buf template and compares byte for byte.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'chittyid-gen-'));
try {
  cpSync(join(root, 'proto'), join(scratch, 'proto'), { recursive: true });
  const template = readFileSync(join(root, 'proto', 'buf.gen.yaml'), 'utf8')
    .replace('out: ../src/gen', `out: ${join(scratch, 'gen')}`)
    .replace('../node_modules/ts-proto/protoc-gen-ts_proto', join(root, 'node_modules/ts-proto/protoc-gen-ts_proto'));
  writeFileSync(join(scratch, 'proto', 'buf.gen.yaml'), template);
  execFileSync(join(root, 'node_modules/.bin/buf'), ['generate'], { cwd: join(scratch, 'proto'), stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts/generate-descriptors.mjs'), join(scratch, 'proto'), join(scratch, 'gen', 'descriptor-set.ts')], { stdio: 'inherit' });

  const list = (dir) => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? list(path) : [path];
  });
  const listRel = (dir) => list(dir).map((p) => relative(dir, p)).sort();
  const expected = listRel(join(scratch, 'gen'));
  const actual = listRel(join(root, 'src', 'gen'));
  const problems = [];
  for (const file of new Set([...expected, ...actual])) {
    if (!expected.includes(file)) problems.push(`src/gen/${file} is not generated from proto/ (stale file)`);
    else if (!actual.includes(file)) problems.push(`src/gen/${file} is missing`);
    else if (!readFileSync(join(scratch, 'gen', file)).equals(readFileSync(join(root, 'src', 'gen', file)))) {
      problems.push(`src/gen/${file} differs from what proto/ generates`);
    }
  }
  if (problems.length > 0) {
    console.error(`generated code is out of date; run "npm run generate" and commit:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`generated code is up to date (${expected.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
