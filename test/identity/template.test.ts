import { describe, expect, it } from "vitest";
import type { EntityView, Group } from "../../src/logical/identity/store.js";
import { fillClaimsTemplate, resolvePath } from "../../src/logical/identity/template.js";

const group = (id: string, name: string, metadata: Record<string, string> | null = null): Group => ({
  id,
  name,
  type: "internal",
  policies: [],
  member_entity_ids: [],
  member_group_ids: [],
  metadata,
  alias: null,
  creation_time: 0,
  last_update_time: 0,
  modify_index: 0,
});

const view: EntityView = {
  entity: {
    id: "e-1",
    name: "alice",
    metadata: { team: "blue", wild: "a*", plus: "+" },
    policies: [],
    disabled: false,
    aliases: [
      {
        id: "a-1",
        canonical_id: "e-1",
        mount_accessor: "auth_userpass_1",
        name: "alice@example",
        metadata: { role: "dev" },
        custom_metadata: { office: "lyon" },
        creation_time: 0,
        last_update_time: 0,
        merged_from_canonical_ids: null,
      },
    ],
    merged_entity_ids: null,
    creation_time: 0,
    last_update_time: 0,
  },
  policies: [],
  directGroups: [group("g-1", "staff", { floor: "3" })],
  inheritedGroups: [group("g-2", "everyone")],
  cacheKey: "e-1@0",
};

describe("identity templates", () => {
  it("fills every key Vault's ACL templating names", () => {
    const cases: [string, string][] = [
      ["kv/{{identity.entity.id}}/*", "kv/e-1/*"],
      ["kv/{{ identity.entity.name }}", "kv/alice"],
      ["kv/{{identity.entity.metadata.team}}", "kv/blue"],
      ["kv/{{identity.entity.aliases.auth_userpass_1.name}}", "kv/alice@example"],
      ["kv/{{identity.entity.aliases.auth_userpass_1.id}}", "kv/a-1"],
      ["kv/{{identity.entity.aliases.auth_userpass_1.metadata.role}}", "kv/dev"],
      ["kv/{{identity.entity.aliases.auth_userpass_1.custom_metadata.office}}", "kv/lyon"],
      ["kv/{{identity.groups.ids.g-1.name}}", "kv/staff"],
      ["kv/{{identity.groups.names.everyone.id}}", "kv/g-2"],
      ["kv/{{identity.groups.names.staff.metadata.floor}}/{{identity.entity.name}}", "kv/3/alice"],
    ];
    for (const [template, expected] of cases) expect(resolvePath(template, view)).toBe(expected);
  });

  it("matches nothing when a value is missing, would widen the path, or there is no entity", () => {
    for (const template of [
      "kv/{{identity.entity.metadata.nope}}",
      "kv/{{identity.entity.aliases.auth_other.name}}",
      "kv/{{identity.groups.names.strangers.id}}",
      "kv/{{identity.entity.metadata.wild}}",
      "kv/{{identity.entity.metadata.plus}}/x",
      "kv/{{identity.entity.metadata.__proto__}}",
    ]) {
      expect(resolvePath(template, view)).toBeNull();
    }
    expect(resolvePath("kv/{{identity.entity.id}}", null)).toBeNull();
  });

  it("fills identity token claims with JSON values", () => {
    const filled = fillClaimsTemplate(
      '{"groups": {{identity.entity.groups.names}}, "meta": {{identity.entity.metadata}}, "at": {{time.now}}, "x": {{identity.entity.metadata.nope}}}',
      view,
      42,
    );
    expect(JSON.parse(filled)).toEqual({ groups: ["staff", "everyone"], meta: { team: "blue", wild: "a*", plus: "+" }, at: 42, x: null });
  });
});
