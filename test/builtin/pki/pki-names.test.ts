import { describe, expect, it } from "vitest";
import { commonNameAllowed, firstDisallowedName } from "../../../src/builtin/pki/names.js";
import { globMatch } from "../../../src/sdk/glob.js";
import { parseRole } from "../../../src/builtin/pki/roles.js";

const allowed = (fields: Record<string, unknown>, name: string) => firstDisallowedName(parseRole(fields), [name]) === null;

describe("pki role name rules (Vault's validateNames)", () => {
  it("allows subdomains only with allow_subdomains, the bare domain only with allow_bare_domains", () => {
    expect(allowed({ allowed_domains: "example.com" }, "www.example.com")).toBe(false);
    expect(allowed({ allowed_domains: "example.com", allow_subdomains: true }, "a.b.example.com")).toBe(true);
    expect(allowed({ allowed_domains: "example.com", allow_subdomains: true }, "example.com")).toBe(false);
    expect(allowed({ allowed_domains: "example.com", allow_bare_domains: true }, "EXAMPLE.com")).toBe(true);
    expect(allowed({ allowed_domains: "example.com", allow_subdomains: true }, "wwwexample.com")).toBe(false);
  });

  it("takes wildcards in the left-most label as subdomains, and refuses them when wildcards are off", () => {
    const role = { allowed_domains: "example.com", allow_subdomains: true };
    expect(allowed(role, "*.example.com")).toBe(true);
    expect(allowed(role, "f*o.example.com")).toBe(true);
    expect(allowed(role, "a.*.example.com")).toBe(false);
    expect(allowed(role, "**.example.com")).toBe(false);
    expect(allowed({ ...role, allow_wildcard_certificates: false }, "*.example.com")).toBe(false);
  });

  it("matches globs with allow_glob_domains", () => {
    const role = { allowed_domains: "*.svc.cluster.local,db-*.internal", allow_glob_domains: true };
    expect(allowed(role, "api.svc.cluster.local")).toBe(true);
    expect(allowed(role, "db-7.internal")).toBe(true);
    expect(allowed(role, "web-7.internal")).toBe(false);
    expect(globMatch("a*b*c", "axxbyyc")).toBe(true);
    expect(globMatch("a*b*c", "axxbyy")).toBe(false);
  });

  it("allows localhost by default, email addresses by their domain, and anything with allow_any_name but not non-hostnames", () => {
    expect(allowed({}, "localhost")).toBe(true);
    expect(allowed({ allow_localhost: false }, "localhost")).toBe(false);
    expect(allowed({ allowed_domains: "example.com", allow_bare_domains: true }, "ops@example.com")).toBe(true);
    expect(allowed({ allowed_domains: "example.com", allow_bare_domains: true }, "ops@evil.com")).toBe(false);
    expect(allowed({ allow_any_name: true }, "anything.at.all")).toBe(true);
    expect(allowed({ allow_any_name: true }, "not a hostname")).toBe(false);
    expect(allowed({ allow_any_name: true, enforce_hostnames: false }, "not a hostname")).toBe(true);
  });

  it("checks a common name's kind against cn_validations", () => {
    expect(commonNameAllowed(parseRole({ allow_any_name: true, cn_validations: "email" }), "host.example.com")).toBe(false);
    expect(commonNameAllowed(parseRole({ allow_any_name: true, cn_validations: "email" }), "me@example.com")).toBe(true);
    expect(commonNameAllowed(parseRole({ cn_validations: "disabled" }), "Any Name At All")).toBe(true);
  });
});
