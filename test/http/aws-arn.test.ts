import { describe, expect, it } from "vitest";
import { canonicalArn, globbedMatch, parseIamArn } from "../../src/builtin/aws/iam-request.js";

describe("aws method: IAM ARNs as Vault reads them", () => {
  it("parses users with paths, roles and assumed roles, and canonicalises them", () => {
    const user = parseIamArn("arn:aws:iam::123456789012:user/team/dev/alice");
    expect(user).toMatchObject({ partition: "aws", accountNumber: "123456789012", type: "user", path: "team/dev", friendlyName: "alice" });
    expect(canonicalArn(user)).toBe("arn:aws:iam::123456789012:user/alice");
    const assumed = parseIamArn("arn:aws-cn:sts::123456789012:assumed-role/app/session-1");
    expect(assumed).toMatchObject({ partition: "aws-cn", type: "assumed-role", path: "", friendlyName: "app", sessionInfo: "session-1" });
    expect(canonicalArn(assumed)).toBe("arn:aws-cn:iam::123456789012:role/app");
  });

  it("refuses what is not an IAM principal ARN, with Vault's reasons", () => {
    expect(() => parseIamArn("arn:aws:iam:123:user/a")).toThrow("unrecognized arn: contains 5 colon-separated parts, expected 6");
    expect(() => parseIamArn("urn:aws:iam::1:user/a")).toThrow('does not begin with "arn:"');
    expect(() => parseIamArn("arn:aws:s3::1:bucket/a")).toThrow("unrecognized service: s3, not one of iam or sts");
    expect(() => parseIamArn("arn:aws:iam::1:group/a")).toThrow('unrecognized principal type: "group"');
    expect(() => parseIamArn("arn:aws:iam::1:user")).toThrow("fewer than 2 slash-separated parts");
  });

  it("matches wildcards only at the ends, as Vault's GlobbedStringsMatch", () => {
    expect(globbedMatch("arn:aws:iam::1:user/team/*", "arn:aws:iam::1:user/team/alice")).toBe(true);
    expect(globbedMatch("arn:aws:iam::1:user/team/*", "arn:aws:iam::1:user/other/alice")).toBe(false);
    expect(globbedMatch("*/alice", "arn:aws:iam::1:user/team/alice")).toBe(true);
    expect(globbedMatch("*team*", "arn:aws:iam::1:user/team/alice")).toBe(true);
    expect(globbedMatch("arn:aws:iam::1:user/a*b", "arn:aws:iam::1:user/a*b")).toBe(true);
    expect(globbedMatch("arn:aws:iam::1:user/a*b", "arn:aws:iam::1:user/axxb")).toBe(false);
    expect(globbedMatch("*", "anything")).toBe(true);
  });
});
