/** What a token's entity adds to each of its requests: its groups' policies, and the values templated policy paths take. */
import type { Acl } from "../acl.js";
import type { HandlerResult } from "../../sdk/types.js";
import type { PolicyStore, Templating } from "../policy/policy-store.js";
import type { TokenEntry } from "../token-store.js";
import type { Identity } from "./identity.js";
import type { EntityView } from "./store.js";
import { resolvePath } from "./template.js";

/** Token policies plus the entity's (its own and its groups'), memoised per entity view. */
const combined = new WeakMap<EntityView, WeakMap<readonly string[], readonly string[]>>();

export function withIdentityPolicies(policies: readonly string[], view: EntityView | null): readonly string[] {
  if (!view || view.policies.length === 0) return policies;
  let byToken = combined.get(view);
  if (!byToken) combined.set(view, (byToken = new WeakMap()));
  let union = byToken.get(policies);
  if (!union) {
    union = Object.freeze([...new Set([...policies, ...view.policies])].sort());
    byToken.set(policies, union);
  }
  return union;
}

/** How templated paths are filled for this caller; without an entity they match nothing. */
export function identityTemplating(view: EntityView | null): Templating | null {
  return view && { key: view.cacheKey, resolve: (path) => resolvePath(path, view) };
}

/** The ACL a token's requests are judged by: its policies, its entity's, templated paths filled in. */
export async function tokenAcl({ policies, identity }: { policies: PolicyStore; identity: Identity }, entry: TokenEntry): Promise<Acl> {
  const view = entry.entity_id ? await identity.view(entry.entity_id) : null;
  return policies.acl(withIdentityPolicies(entry.policies, view), identityTemplating(view));
}

/** A token lookup's answer with the policies its entity adds (`identity_policies`), as Vault shows them. */
export async function withIdentityPoliciesShown(identity: Identity, result: HandlerResult): Promise<HandlerResult> {
  const entityId = result?.data?.entity_id;
  if (typeof entityId !== "string" || entityId === "" || !("policies" in result!.data!)) return result;
  const view = await identity.view(entityId);
  return view && view.policies.length > 0 ? { ...result, data: { ...result!.data, identity_policies: view.policies } } : result;
}
