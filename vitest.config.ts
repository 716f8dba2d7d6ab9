import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Starts DynamoDB Local and an S3 stand-in once per run; tests get their endpoints with inject().
    globalSetup: ["test/global-setup.ts"],
  },
});
