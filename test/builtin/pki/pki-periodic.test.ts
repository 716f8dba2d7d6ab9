import "reflect-metadata";
import { X509Crl } from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import { pkiEngine } from "../../../src/builtin/pki/index.js";
import { VAULT_LEASE_TTLS } from "../../../src/sdk/lease-ttls.js";
import type { LogicalRequest } from "../../../src/sdk/types.js";
import { memoryStorage, testMount } from "../../helpers/memory-storage.js";

describe("pki's periodic work", () => {
  it("with auto_rebuild, renews a CRL that nobody fetches once it is within its grace period; without, leaves it", async () => {
    const mount = testMount("pki");
    const engine = pkiEngine(mount, { leaseTtls: VAULT_LEASE_TTLS });
    const storage = memoryStorage();
    const call = async (operation: LogicalRequest["operation"], path: string, data: Record<string, unknown> = {}) =>
      (await engine.handle({ operation, path, data, storage, mount }))?.data as Record<string, any>;
    await call("update", "root/generate/internal", { common_name: "periodic.example", key_type: "ec", ttl: "24h" });
    const thisUpdate = async () => new X509Crl(Buffer.from(String((await call("read", "crl")).http_raw_body), "base64")).thisUpdate.getTime();
    // A CRL's times have whole seconds: wait past one so a rebuild shows.
    const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1100));
    await call("update", "config/crl", { expiry: "1h", auto_rebuild_grace_period: "30m" });
    const first = await thisUpdate();
    await nextSecond();
    await engine.periodic!(storage, mount, new Date(Date.now() + 50 * 60_000));
    expect(await thisUpdate()).toBe(first);

    await call("update", "config/crl", { auto_rebuild: true });
    const second = await thisUpdate();
    await nextSecond();
    await engine.periodic!(storage, mount, new Date(Date.now() + 10 * 60_000));
    expect(await thisUpdate()).toBe(second);
    await engine.periodic!(storage, mount, new Date(Date.now() + 50 * 60_000));
    expect(await thisUpdate()).toBeGreaterThan(second);
  });
});
