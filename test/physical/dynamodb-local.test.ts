/** DynamoDB Local (test/helpers/dynamodb-local.ts) must leave the repository as it found it. */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { startDynamoDBLocal } from "../helpers/dynamodb-local.js";

const repositoryRoot = fileURLToPath(new URL("../..", import.meta.url));

it("writes its metadata file into a temporary folder, removed when it stops, not into the repository", async () => {
  // The global setup has started one already; it would have written the file here by now.
  expect(existsSync(`${repositoryRoot}/dynamodb-local-metadata.json`)).toBe(false);

  const local = await startDynamoDBLocal();
  try {
    expect(relative(repositoryRoot, local.workDir)).toMatch(/^\.\./);
    expect(existsSync(local.workDir)).toBe(true);
  } finally {
    await local.stop();
  }
  expect(existsSync(local.workDir)).toBe(false);
});
