import { describe, expect, it } from "vitest";
import {
  columns,
  formatValue,
  headerForMap,
  humanDuration,
  listTable,
  mapTable,
  padEqualSigns,
  pathHeader,
  sealStatusTable,
  warningsText,
} from "../../adapters/node/cli/output.js";

describe("tables", () => {
  it("aligns columns four spaces apart, leaves the last column unpadded, shows empty cells as n/a", () => {
    expect(
      columns([
        ["a", "1"],
        ["long key", ""],
        ["b", "two words"],
      ]),
    ).toBe(["a           1", "long key    n/a", "b           two words"].join("\n"));
  });

  it("prints a map as a sorted Key/Value table, empty as nothing", () => {
    expect(mapTable({ zeta: "z", alpha: true, Beta: 3 })).toBe(["Key      Value", "---      -----", "Beta     3", "alpha    true", "zeta     z"].join("\n"));
    expect(mapTable({})).toBe("");
  });

  it("prints integer TTL-like fields as durations, and nothing else", () => {
    expect(mapTable({ ttl: 3600, max_ttl: 90, lease_max: 0, version: 3600, token_ttl: "1h" })).toContain("max_ttl      1m30s");
    expect(mapTable({ ttl: 3600 })).toContain("ttl    1h");
    expect(mapTable({ version: 3600 })).toContain("version    3600");
    expect(mapTable({ token_ttl: "1h" })).toContain("token_ttl    1h");
  });

  it("lists keys sorted by byte order under Keys", () => {
    expect(listTable(["b/", "a", "B"])).toBe(["Keys", "----", "B", "a", "b/"].join("\n"));
  });
});

describe("formatValue (Go's %v)", () => {
  it("prints JSON values the way Vault's CLI does", () => {
    expect(formatValue(null)).toBe("<nil>");
    expect(formatValue("s")).toBe("s");
    expect(formatValue(false)).toBe("false");
    expect(formatValue(12)).toBe("12");
    expect(formatValue(["a", 1, null])).toBe("[a 1 <nil>]");
    expect(formatValue({ b: "2", a: { c: [] } })).toBe("map[a:map[c:[]] b:2]");
  });
});

describe("humanDuration", () => {
  it("drops zero minutes and seconds like Vault", () => {
    expect(humanDuration(0)).toBe("0s");
    expect(humanDuration(45)).toBe("45s");
    expect(humanDuration(90)).toBe("1m30s");
    expect(humanDuration(120)).toBe("2m");
    expect(humanDuration(3600)).toBe("1h");
    expect(humanDuration(3660)).toBe("1h1m");
    expect(humanDuration(3601)).toBe("1h0m1s");
    expect(humanDuration(2764800)).toBe("768h");
    expect(humanDuration(-60)).toBe("-1m");
  });
});

describe("section headers", () => {
  it("pads titles with equal signs to the width below them, evenly", () => {
    expect(padEqualSigns("Secret Path", "secret/data/creds".length)).toBe("== Secret Path ==");
    expect(padEqualSigns("Secret Path", "secret/data/foo".length)).toBe("= Secret Path =");
    expect(padEqualSigns("Secret Path", 3)).toBe("== Secret Path ==");
    expect(padEqualSigns("Data", 12)).toBe("=== Data ===");
  });

  it("sizes a map's header to its Key/Value table", () => {
    const metadata = { created_time: "", custom_metadata: null, deletion_time: "", destroyed: false, version: 1 };
    expect(headerForMap("Metadata", metadata)).toBe("======= Metadata =======");
    expect(headerForMap("Data", { passcode: "x" })).toBe("====== Data ======");
  });

  it("puts the API path under its title, then a blank line", () => {
    expect(`${pathHeader("Secret Path", "secret/data/creds")}\n`).toBe("== Secret Path ==\nsecret/data/creds\n\n");
  });
});

describe("sealStatusTable", () => {
  const base = { type: "shamir", initialized: true, t: 3, n: 5, progress: 1, nonce: "abc", version: "0.1.0", build_date: "", storage_type: "dynamodb" };

  it("shows unseal progress only while sealed, and hides HA rows while sealed", () => {
    const text = sealStatusTable({ ...base, sealed: true, ha_enabled: true });
    expect(text.split("\n")).toEqual([
      "Key                Value",
      "---                -----",
      "Seal Type          shamir",
      "Initialized        true",
      "Sealed             true",
      "Total Shares       5",
      "Threshold          3",
      "Unseal Progress    1/3",
      "Unseal Nonce       abc",
      "Version            0.1.0",
      "Build Date         n/a",
      "Storage Type       dynamodb",
      "HA Enabled         true",
    ]);
  });

  it("marks the active node, with its activation time", () => {
    const text = sealStatusTable({
      ...base,
      sealed: false,
      ha_enabled: true,
      is_self: true,
      active_time: "2026-01-02T03:04:05Z",
      leader_cluster_address: "https://10.0.0.1:8201",
    });
    expect(text).not.toContain("Unseal Progress");
    expect(text).toMatch(/^HA Cluster\s+https:\/\/10\.0\.0\.1:8201$/m);
    expect(text).toMatch(/^HA Mode\s+active$/m);
    expect(text).toMatch(/^Active Since\s+2026-01-02T03:04:05Z$/m);
    expect(text).not.toContain("Active Node Address");
  });

  it("shows a standby's active node address, or <none> when unknown", () => {
    const standby = sealStatusTable({ ...base, sealed: false, ha_enabled: true, is_self: false, leader_address: "https://10.0.0.1:8200" });
    expect(standby).toMatch(/^HA Mode\s+standby$/m);
    expect(standby).toMatch(/^Active Node Address\s+https:\/\/10\.0\.0\.1:8200$/m);
    expect(sealStatusTable({ ...base, sealed: false, ha_enabled: true, leader_address: "" })).toMatch(/^Active Node Address\s+<none>$/m);
  });

  it("shows no HA rows on a node without HA", () => {
    const text = sealStatusTable({ ...base, sealed: false, ha_enabled: false });
    expect(text).toMatch(/^HA Enabled\s+false$/m);
    expect(text).not.toContain("HA Mode");
  });
});

describe("warningsText", () => {
  it("lists warnings, or is empty without any", () => {
    expect(warningsText(null)).toBe("");
    expect(warningsText([])).toBe("");
    expect(warningsText(["one", "two"])).toBe("WARNING! The server returned these warnings:\n\n* one\n\n* two\n");
  });
});
