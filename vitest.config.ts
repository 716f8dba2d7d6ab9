import { type TestProjectInlineConfiguration, defineConfig } from "vitest/config";
import { CHAOS_FILES, CLUSTER_FILES, STORE_FILES, type Tier } from "./test/tiers.js";

/**
 * One project per tier (test/tiers.ts lists the files), run one tier after another in this order;
 * `vitest run --project unit` (`npm run test:unit`) runs one. Each tier's global setup starts only
 * the services it needs; the guard makes inject() of anything else throw.
 */
function tier(name: Tier, order: number, include: string[], options: { maxWorkers: number; exclude?: string[] }): TestProjectInlineConfiguration {
  return {
    extends: true,
    test: {
      name,
      include,
      exclude: options.exclude ?? [],
      maxWorkers: options.maxWorkers,
      sequence: { groupOrder: order },
      provide: { tier: name },
      setupFiles: ["test/helpers/tier-guard.ts"],
      globalSetup: name === "unit" ? [] : ["test/global-setup.ts"],
    },
  };
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      // In-process only: both cores.
      tier("unit", 0, ["test/**/*.test.ts"], { maxWorkers: 2, exclude: [...STORE_FILES, ...CLUSTER_FILES, ...CHAOS_FILES] }),
      // Store servers run beside the tests and take CPU too.
      tier("store", 1, STORE_FILES, { maxWorkers: 2 }),
      // Each file runs several node processes whose timing it watches: one file at a time.
      tier("cluster", 2, CLUSTER_FILES, { maxWorkers: 1 }),
      tier("chaos", 3, CHAOS_FILES, { maxWorkers: 1 }),
    ],
  },
});
