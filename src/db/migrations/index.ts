import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './2026-12-04T00-00_initial.js';
import * as componentsView from './2026-12-04T01-00_components-view.js';

/** Every migration, by name; names sort in the order they run (ISO date prefix). */
export const migrationProvider: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return {
      '2026-12-04T00-00_initial': initial,
      '2026-12-04T01-00_components-view': componentsView,
    };
  },
};
