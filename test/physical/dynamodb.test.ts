import { createServer } from "node:http";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ConfigError } from "../../src/config/types.js";
import { BackendInputError } from "../../src/physical/backend.js";
import { createDynamoDBBackend, dynamodbSettings } from "../../src/physical/dynamodb.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { describeConformance } from "./conformance.js";

const endpoint = inject("dynamodbEndpoint");
const options = (extra: Record<string, string> = {}) => ({
  table: `t-${crypto.randomUUID()}`,
  endpoint,
  region: "us-east-1",
  access_key: "test",
  secret_key: "test",
  ...extra,
});

async function rawClient() {
  const sdk = await import("@aws-sdk/client-dynamodb");
  return { sdk, client: new sdk.DynamoDBClient({ endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } }) };
}

describeConformance("dynamodb", {
  create: () => createDynamoDBBackend(options(), {}),
  // 400 KiB per item, attribute names included: "Path" + "big" + "Key" + "blob" + "Value" = 19 bytes.
  valueLimit: { key: "big/blob", maxBytes: 400 * 1024 - 19 },
});

describe("dynamodb table", () => {
  it("creates a missing table on demand, with Vault's key schema", async () => {
    const table = `t-${crypto.randomUUID()}`;
    await createDynamoDBBackend(options({ table }), {});
    const { sdk, client } = await rawClient();
    const { Table } = await client.send(new sdk.DescribeTableCommand({ TableName: table }));
    expect(Table?.TableStatus).toBe("ACTIVE");
    expect(Table?.KeySchema).toEqual([
      { AttributeName: "Path", KeyType: "HASH" },
      { AttributeName: "Key", KeyType: "RANGE" },
    ]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
  });

  it("provisions the configured capacity when asked to", async () => {
    const table = `t-${crypto.randomUUID()}`;
    await createDynamoDBBackend(options({ table, billing_mode: "provisioned", read_capacity: "7", write_capacity: "9" }), {});
    const { sdk, client } = await rawClient();
    const { Table } = await client.send(new sdk.DescribeTableCommand({ TableName: table }));
    expect(Table?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 7, WriteCapacityUnits: 9 });
  });

  it("shares an existing table between backends", async () => {
    const shared = options();
    const one = await createDynamoDBBackend(shared, {});
    await one.put("a/b", new Uint8Array([1]));
    const two = await createDynamoDBBackend(shared, {});
    expect(await two.get("a/b")).toEqual(new Uint8Array([1]));
    expect(await two.list("a/")).toEqual(["b"]);
  });

  it("refuses a table with another key schema, naming it", async () => {
    const table = `t-${crypto.randomUUID()}`;
    const { sdk, client } = await rawClient();
    await client.send(
      new sdk.CreateTableCommand({
        TableName: table,
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await expect(createDynamoDBBackend(options({ table }), {})).rejects.toThrow(
      new RegExp(`"${table}".*key schema id:HASH.*expected hash key Path and range key Key`),
    );
  });

  it("refuses keys DynamoDB cannot hold, clearly", async () => {
    const backend = await createDynamoDBBackend(options(), {});
    await expect(backend.put("/leading", new Uint8Array())).rejects.toThrow(BackendInputError);
    await expect(backend.put("trailing/", new Uint8Array())).rejects.toThrow(BackendInputError);
    await expect(backend.put(`a/${"k".repeat(1024)}`, new Uint8Array())).rejects.toThrow(/too long/);
    await backend.put(`a/${"k".repeat(1023)}`, new Uint8Array([1]));
    expect(await backend.list("a/")).toEqual(["k".repeat(1023)]);
  });
});

describe("dynamodb folder markers", () => {
  it("survive a put that lands between a delete's emptiness check and its marker removal", async () => {
    const shared = options();
    const direct = await createDynamoDBBackend(shared, {});
    const proxy = await startFaultProxy(endpoint);
    try {
      const slow = await createDynamoDBBackend({ ...shared, endpoint: proxy.endpoint }, {});
      await direct.put("f/old", new Uint8Array([1]));
      // Each of the slow node's requests now takes 300 ms there and back: the delete runs its
      // item delete, marker read, emptiness query and marker delete at about 150, 450, 750, 1050 ms.
      proxy.setMode({ delayMs: 150 });
      const deleting = slow.delete("f/old");
      await new Promise((resolve) => setTimeout(resolve, 900));
      await direct.put("f/new", new Uint8Array([2]));
      await deleting;
      expect(await direct.list("")).toEqual(["f/"]);
      expect(await direct.list("f/")).toEqual(["new"]);
    } finally {
      await proxy.close();
    }
  });
});

describe("dynamodb against a scripted endpoint", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** A DynamoDB endpoint answering each operation from `script` (JSON body, or [status, body]). */
  async function scripted(script: Record<string, (input: Record<string, unknown>) => unknown>) {
    const calls: { operation: string; input: Record<string, unknown> }[] = [];
    const server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk));
      request.on("end", () => {
        const operation = String(request.headers["x-amz-target"]).split(".")[1]!;
        const input = JSON.parse(text) as Record<string, unknown>;
        calls.push({ operation, input });
        const answer = script[operation]?.(input) ?? [400, { __type: "com.amazon.coral.service#UnknownOperationException" }];
        const [status, body] = Array.isArray(answer) ? answer : [200, answer];
        response.writeHead(status as number, { "Content-Type": "application/x-amz-json-1.0" }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
    return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls };
  }

  const existingTable = () => ({
    Table: {
      TableName: "vault-dynamodb-backend",
      TableStatus: "ACTIVE",
      KeySchema: [
        { AttributeName: "Path", KeyType: "HASH" },
        { AttributeName: "Key", KeyType: "RANGE" },
      ],
    },
  });

  it("names the table and the IAM action when it may not create the table", async () => {
    const fake = await scripted({
      DescribeTable: () => [400, { __type: "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", message: "not found" }],
      CreateTable: () => [400, { __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", message: "no" }],
    });
    await expect(createDynamoDBBackend({ ...options({ table: "vault-data" }), endpoint: fake.endpoint }, {})).rejects.toThrow(
      /"vault-data".*does not exist.*dynamodb:CreateTable/,
    );
  });

  it("names the IAM action when it may not even describe the table", async () => {
    const fake = await scripted({
      DescribeTable: () => [400, { __type: "com.amazonaws.dynamodb.v20120810#AccessDeniedException", message: "no" }],
    });
    await expect(createDynamoDBBackend({ ...options({ table: "vault-data" }), endpoint: fake.endpoint }, {})).rejects.toThrow(
      /"vault-data".*dynamodb:DescribeTable/,
    );
  });

  it("retries writes DynamoDB left unprocessed instead of dropping them", async () => {
    let batches = 0;
    const fake = await scripted({
      DescribeTable: existingTable,
      PutItem: () => ({}),
      // Throttled twice: everything comes back unprocessed.
      BatchWriteItem: (input) => (++batches <= 2 ? { UnprocessedItems: input.RequestItems } : {}),
    });
    const backend = await createDynamoDBBackend({ ...options({ table: "vault-dynamodb-backend" }), endpoint: fake.endpoint }, {});
    await backend.put("a/b/c", new Uint8Array([1]));
    const writes = fake.calls.filter((c) => c.operation === "BatchWriteItem");
    expect(writes).toHaveLength(3);
    const markers = (call: (typeof writes)[number]) =>
      ((call.input.RequestItems as Record<string, { PutRequest: { Item: Record<string, { S: string }> } }[]>)["vault-dynamodb-backend"] ?? []).map(
        (r) => `${r.PutRequest.Item.Path!.S}|${r.PutRequest.Item.Key!.S}`,
      );
    expect(markers(writes[2]!)).toEqual([" |a/", "a|b/"]);
    expect(markers(writes[2]!)).toEqual(markers(writes[0]!));
  });
});

describe("dynamodb settings", () => {
  it("uses Vault's defaults", () => {
    expect(dynamodbSettings({}, {})).toEqual({
      table: "vault-dynamodb-backend",
      region: "us-east-1",
      endpoint: undefined,
      credentials: undefined,
      maxParallel: 128,
      billingMode: "PAY_PER_REQUEST",
      readCapacity: 5,
      writeCapacity: 5,
      haEnabled: true,
      lock: { leaseMs: 1500, renewIntervalMs: 300, retryIntervalMs: 200, stepDownCooldownMs: 10_000 },
    });
  });

  it("lets Vault's environment variables win over the stanza", () => {
    const settings = dynamodbSettings(
      { table: "file", endpoint: "http://file:8000", region: "eu-west-1", ha_enabled: "false", read_capacity: "1" },
      {
        AWS_DYNAMODB_TABLE: "env",
        AWS_DYNAMODB_ENDPOINT: "dynamodb.local:8000",
        AWS_DEFAULT_REGION: "eu-central-1",
        DYNAMODB_HA_ENABLED: "true",
        AWS_DYNAMODB_READ_CAPACITY: "11",
        AWS_DYNAMODB_WRITE_CAPACITY: "12",
        AWS_DYNAMODB_BILLING_MODE: "PROVISIONED",
      },
    );
    expect(settings).toMatchObject({
      table: "env",
      endpoint: "https://dynamodb.local:8000",
      region: "eu-central-1",
      haEnabled: true,
      readCapacity: 11,
      writeCapacity: 12,
      billingMode: "PROVISIONED",
    });
    expect(dynamodbSettings({ region: "eu-west-1" }, { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "eu-central-1" }).region).toBe("us-west-2");
    expect(dynamodbSettings({ access_key: "AKIA", secret_key: "s", session_token: "t" }, {}).credentials).toEqual({
      accessKeyId: "AKIA",
      secretAccessKey: "s",
      sessionToken: "t",
    });
  });

  it("reads lock timings as durations", () => {
    const options = { ha_lease_duration: "3s", ha_renew_interval: "500ms", ha_retry_interval: "0.25", ha_step_down_cooldown: "1m" };
    expect(dynamodbSettings(options, {}).lock).toEqual({
      leaseMs: 3000,
      renewIntervalMs: 500,
      retryIntervalMs: 250,
      stepDownCooldownMs: 60_000,
    });
    expect(dynamodbSettings({ ha_lease_duration: "1m30s", ha_renew_interval: "10s" }, {}).lock.leaseMs).toBe(90_000);
  });

  it.each([
    [{ max_parallel: "many" }, /storage "dynamodb": max_parallel = "many" is not allowed: use a positive integer/],
    [{ max_parallel: "0" }, /max_parallel = "0".*positive integer/],
    [{ read_capacity: "-1" }, /read_capacity = "-1".*positive integer/],
    [{ ha_enabled: "yes" }, /ha_enabled = "yes".*"true" or "false"/],
    [{ billing_mode: "FREE" }, /billing_mode = "FREE".*"PAY_PER_REQUEST", "PROVISIONED"/],
    [{ ha_lease_duration: "soon" }, /ha_lease_duration = "soon".*duration such as "1500ms"/],
    [{ ha_renew_interval: "-3s" }, /ha_renew_interval = "-3s"/],
    [{ ha_lease_duration: "1s", ha_renew_interval: "500ms" }, /ha_lease_duration, ha_renew_interval.*at most a third of the lease/],
    [{ ha_retry_interval: "5s" }, /retry interval must not exceed the lease/],
    [{ ha_step_down_cooldown: "later" }, /ha_step_down_cooldown = "later".*positive duration/],
    [{ secret_key: "s" }, /access_key and secret_key must be set together/],
  ])("refuses %o, naming the key and what is allowed", (bad, message) => {
    expect(() => dynamodbSettings(bad, {})).toThrow(ConfigError);
    expect(() => dynamodbSettings(bad, {})).toThrow(message);
  });

  it("names the environment variable when its value is wrong", () => {
    expect(() => dynamodbSettings({}, { AWS_DYNAMODB_WRITE_CAPACITY: "lots" })).toThrow(/AWS_DYNAMODB_WRITE_CAPACITY \(for write_capacity\) = "lots"/);
  });
});
