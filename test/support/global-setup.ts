import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

/**
 * Makes a PostgreSQL URL available to the tests: TEST_DATABASE_URL when set, otherwise the
 * machine's PostgreSQL 15 started by scripts/pg-start.sh (as .ci/run does).
 */
export default function setup(project: TestProject): void {
  if (!existsSync('dist/workers/mint.worker.js')) {
    throw new Error('dist/ is missing: run the tests with "npm test" (it builds first)');
  }
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    try {
      url = execFileSync('bash', ['scripts/pg-start.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop();
    } catch (err) {
      process.stderr.write(`PostgreSQL is not available, its tests will be skipped: ${(err as Error).message}\n`);
    }
  }
  project.provide('postgresUrl', url ?? '');
}

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}
