import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../helpers/dev-server.js";
import { runCli } from "../helpers/server-process.js";

/** `strongbox operator generate-root` against a dev server (one unseal key share, threshold 1). */
describe("strongbox operator generate-root", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("starts an attempt, takes the share, and decodes a root token that works", async () => {
    const env = { VAULT_ADDR: server.addr };
    const init = await runCli(["operator", "generate-root", "-init", "-format=json"], env);
    expect(init.code).toBe(0);
    const { otp, nonce } = JSON.parse(init.stdout);
    expect(otp).toHaveLength(28);

    const update = await runCli(["operator", "generate-root", "-format=json", "-"], env, `${server.unsealKey}\n`);
    expect(update.stderr).toBe("");
    const done = JSON.parse(update.stdout);
    expect(done).toMatchObject({ complete: true, nonce });

    const decoded = await runCli(["operator", "generate-root", `-decode=${done.encoded_token}`, `-otp=${otp}`], {});
    expect(decoded.code).toBe(0);
    const token = decoded.stdout.trim();
    expect(token).toMatch(/^hvs\./);
    const lookup = await runCli(["token", "lookup", "-format=json"], { ...env, VAULT_TOKEN: token });
    expect(JSON.parse(lookup.stdout).data.policies).toEqual(["root"]);
  });

  it("makes an OTP of its own with -generate-otp, which -init -otp then uses", async () => {
    const env = { VAULT_ADDR: server.addr };
    const made = await runCli(["operator", "generate-root", "-generate-otp"], {});
    expect(made.code).toBe(0);
    const otp = made.stdout.trim();
    expect(otp).toMatch(/^[A-Za-z0-9]{28}$/);
    expect((await runCli(["operator", "generate-root", "-generate-otp"], {})).stdout.trim()).not.toBe(otp);
    const init = await runCli(["operator", "generate-root", "-init", `-otp=${otp}`, "-format=json"], env);
    expect(JSON.parse(init.stdout)).toMatchObject({ started: true, otp: "" });
    const done = JSON.parse((await runCli(["operator", "generate-root", "-format=json", "-"], env, `${server.unsealKey}\n`)).stdout);
    const decoded = await runCli(["operator", "generate-root", `-decode=${done.encoded_token}`, `-otp=${otp}`], {});
    expect(decoded.stdout.trim()).toMatch(/^hvs\./);
  });

  it("says what is missing: -decode without -otp, a share with no attempt", async () => {
    const env = { VAULT_ADDR: server.addr };
    const noOtp = await runCli(["operator", "generate-root", "-decode=abc"], {});
    expect(noOtp.code).toBe(1);
    expect(noOtp.stderr).toContain("-decode needs -otp");
    const wrongLength = await runCli(["operator", "generate-root", "-decode=YWJj", "-otp=x"], {});
    expect(wrongLength).toMatchObject({ code: 1, stderr: "Error: the encoded token has 3 bytes, the OTP 1 characters: they must match\n" });
    const noAttempt = await runCli(["operator", "generate-root", server.unsealKey], env);
    expect(noAttempt.code).toBe(1);
    expect(noAttempt.stderr).toContain("start one with -init");
  });
});
