import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript file of a worker in workers/. From dist/ it sits beside us; when this
 * module runs from TypeScript source (vitest), the compiled copy under dist/ is used, which is why
 * `npm test` builds first.
 */
export function workerFile(name: string): string {
  const besideUs = fileURLToPath(new URL(`../../workers/${name}.js`, import.meta.url));
  if (existsSync(besideUs)) return besideUs;
  const compiled = fileURLToPath(new URL(`../../dist/workers/${name}.js`, import.meta.url));
  if (existsSync(compiled)) return compiled;
  throw new Error(`worker ${name} is not built: run "npm run build" first`);
}
