import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Starts DynamoDB Local and s3rver once per run; tests get their endpoints with inject().
    globalSetup: ["test/global-setup.ts"],
  },
});
