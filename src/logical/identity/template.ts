/**
 * Vault's identity templates: `{{identity.entity.id}}` and friends, filled in from the calling
 * token's entity. ACL paths take string values only, and a path whose template cannot be filled
 * matches nothing; identity token templates (OIDC) also take lists and maps.
 */
import type { EntityView } from "./store.js";

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** Whether `text` holds a template placeholder. */
export function isTemplated(text: string): boolean {
  return /\{\{[^{}]*\}\}/.test(text);
}

/**
 * `path` with every placeholder filled in from the entity, or null when one cannot be (no entity,
 * an unknown key, a missing value) or when a value would widen the path (`*`, or a `+` segment).
 */
export function resolvePath(path: string, view: EntityView | null): string | null {
  if (!view) return null;
  let failed = false;
  const resolved = path.replace(PLACEHOLDER, (_whole, key: string) => {
    const value = valueOf(key, view);
    if (typeof value !== "string" || value.includes("*") || value.split("/").includes("+")) failed = true;
    return typeof value === "string" ? value : "";
  });
  return failed ? null : resolved;
}

/** An identity token template (JSON text) filled in: placeholders become JSON values; unknown ones null. */
export function fillClaimsTemplate(template: string, view: EntityView, nowSeconds: number): string {
  return template.replace(PLACEHOLDER, (_whole, key: string) => {
    const value = key === "time.now" ? nowSeconds : valueOf(key, view);
    return JSON.stringify(value ?? null);
  });
}

/** The placeholder keys a claims template may use (checked when the role is written). */
export function validClaimKey(key: string): boolean {
  return (
    key === "time.now" ||
    /^identity\.entity\.(id|name|metadata|groups\.ids|groups\.names)$/.test(key) ||
    /^identity\.entity\.metadata\.[^.]+$/.test(key) ||
    /^identity\.entity\.aliases\.[^.]+\.(id|name|metadata|metadata\.[^.]+|custom_metadata\.[^.]+)$/.test(key)
  );
}

/** The placeholder keys an ACL policy path may use (checked when the policy is written). */
export function validPathKey(key: string): boolean {
  return (
    /^identity\.entity\.(id|name)$/.test(key) ||
    /^identity\.entity\.metadata\.[^.]+$/.test(key) ||
    /^identity\.entity\.aliases\.[^.]+\.(id|name|metadata\.[^.]+|custom_metadata\.[^.]+)$/.test(key) ||
    /^identity\.groups\.(ids|names)\.[^.]+\.(id|name|metadata\.[^.]+)$/.test(key)
  );
}

export function placeholderKeys(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((match) => match[1]!);
}

function valueOf(key: string, view: EntityView): unknown {
  const { entity } = view;
  const parts = key.split(".");
  if (parts[0] !== "identity") return undefined;
  const groups = [...view.directGroups, ...view.inheritedGroups];
  if (parts[1] === "entity") {
    const [, , field, ...rest] = parts;
    if (field === "id" && rest.length === 0) return entity.id;
    if (field === "name" && rest.length === 0) return entity.name;
    if (field === "metadata") return rest.length === 0 ? (entity.metadata ?? {}) : own(entity.metadata, rest.join("."));
    if (field === "groups" && rest.length === 1) {
      if (rest[0] === "ids") return groups.map((group) => group.id);
      if (rest[0] === "names") return groups.map((group) => group.name);
    }
    if (field === "aliases" && rest.length >= 2) {
      const [accessor, aliasField, ...aliasRest] = rest;
      const alias = entity.aliases.find((candidate) => candidate.mount_accessor === accessor);
      if (!alias) return undefined;
      if (aliasField === "id" && aliasRest.length === 0) return alias.id;
      if (aliasField === "name" && aliasRest.length === 0) return alias.name;
      if (aliasField === "metadata") return aliasRest.length === 0 ? (alias.metadata ?? {}) : own(alias.metadata, aliasRest.join("."));
      if (aliasField === "custom_metadata") return own(alias.custom_metadata, aliasRest.join("."));
    }
    return undefined;
  }
  if (parts[1] === "groups" && parts.length >= 5) {
    const [, , by, selector, field, ...rest] = parts;
    const group = groups.find((candidate) => (by === "ids" ? candidate.id === selector : by === "names" ? candidate.name === selector : false));
    if (!group) return undefined;
    if (field === "id" && rest.length === 0) return group.id;
    if (field === "name" && rest.length === 0) return group.name;
    if (field === "metadata" && rest.length > 0) return own(group.metadata, rest.join("."));
    return undefined;
  }
  return undefined;
}

function own(map: Record<string, string> | null, key: string): string | undefined {
  return map && Object.hasOwn(map, key) ? map[key] : undefined;
}
