import { describe, expect, it } from "vitest";
import { Endpoints, standbyMayAnswer } from "../../src/sdk/framework.js";
import type { Operation } from "../../src/sdk/types.js";

type Req = { operation: Operation; path: string };
const echo = async (_: Req, params: Record<string, string>) => ({ data: params });

describe("declared endpoints", () => {
  const table = new Endpoints<Req>([
    { pattern: "keys", operations: { list: echo } },
    { pattern: "keys/:name", operations: { read: echo, update: echo }, exists: async (_, { name }) => name === "present" },
    { pattern: "export/:type/:name/:version?", operations: { read: echo } },
    { pattern: "cert/*serial", operations: { read: echo } },
  ]);

  it("captures named segments, an optional last one and a rest", async () => {
    expect(table.match("keys/a")?.params).toEqual({ name: "a" });
    expect(table.match("keys/a/b")).toBeNull();
    expect(table.match("keys/")).toBeNull();
    expect(table.match("export/encryption-key/k")?.params).toEqual({ type: "encryption-key", name: "k" });
    expect(table.match("export/encryption-key/k/3")?.params).toEqual({ type: "encryption-key", name: "k", version: "3" });
    expect(table.match("cert/ab/cd")?.params).toEqual({ serial: "ab/cd" });
    expect(table.match("cert")).toBeNull();
  });

  it("matches literal text literally", () => {
    const dotted = new Endpoints<Req>([{ pattern: ".well-known/keys", operations: { read: echo } }]);
    expect(dotted.match(".well-known/keys")).not.toBeNull();
    expect(dotted.match("xwell-known/keys")).toBeNull();
  });

  it("answers 404 for no endpoint and 405 for an operation the endpoint does not take, naming the API path", async () => {
    await expect(table.handle({ operation: "read", path: "nope" }, "transit/nope")).rejects.toMatchObject({
      status: 404,
      message: 'no handler for route "transit/nope". route entry not found.',
    });
    await expect(table.handle({ operation: "delete", path: "keys/a" }, "transit/keys/a")).rejects.toMatchObject({
      status: 405,
      message: 'unsupported operation "delete" on path "transit/keys/a"',
    });
  });

  it("serves create with the update handler, and runs the existence check only for writes", async () => {
    await expect(table.handle({ operation: "create", path: "keys/a" }, "x")).resolves.toEqual({ data: { name: "a" } });
    expect(await table.exists({ operation: "update", path: "keys/present" })).toBe(true);
    expect(await table.exists({ operation: "create", path: "keys/absent" })).toBe(false);
    expect(await table.exists({ operation: "read", path: "keys/present" })).toBeNull();
    expect(await table.exists({ operation: "list", path: "keys" })).toBeNull();
  });

  it("keeps the order given between literal first segments and patterns that start with a parameter", () => {
    const mixed = new Endpoints<Req>([
      { pattern: ":scope/config", operations: { read: echo } },
      { pattern: "roles/:name", operations: { read: echo } },
      { pattern: ":scope/:name", operations: { read: echo } },
      { pattern: "roles", operations: { list: echo } },
    ]);
    expect(mixed.match("roles/config")?.endpoint.pattern).toBe(":scope/config");
    expect(mixed.match("roles/web")?.endpoint.pattern).toBe("roles/:name");
    expect(mixed.match("other/web")?.endpoint.pattern).toBe(":scope/:name");
    expect(mixed.match("roles")?.endpoint.pattern).toBe("roles");
    expect(mixed.match("other")).toBeNull();
    expect(mixed.match("")).toBeNull();
  });

  it("refuses a pattern whose wildcard is not last", () => {
    expect(() => new Endpoints<Req>([{ pattern: "a/*rest/b", operations: {} }])).toThrow(/must be the last segment/);
    expect(() => new Endpoints<Req>([{ pattern: "a/:x?/b", operations: {} }])).toThrow(/must be the last segment/);
  });

  it("lets a standby answer reads unless told not to, and writes only when told to", () => {
    expect(standbyMayAnswer({}, "read")).toBe(true);
    expect(standbyMayAnswer({ standby: false }, "list")).toBe(false);
    expect(standbyMayAnswer({}, "update")).toBe(false);
    expect(standbyMayAnswer({ standby: true }, "update")).toBe(true);
  });
});
