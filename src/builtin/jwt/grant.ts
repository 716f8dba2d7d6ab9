/** What a verified token's claims give a login, for `login` and the OIDC callback alike (Vault's createIdentity and bound claims). */
import type { LoginGrant } from "../../sdk/auth.js";
import { LogicalError } from "../../sdk/types.js";
import { checkBoundClaims, getClaim, groupNames, mappedMetadata } from "./claims.js";
import { type JwtRole, tokenSettingsOf } from "./role.js";

/** The user claim names the alias; mapped claims and the role are its metadata and the token's; the groups claim gives group aliases. */
export function grantFor(claims: Record<string, unknown>, roleName: string, role: JwtRole): LoginGrant {
  let alias: { name: string; metadata: Record<string, string> };
  let groups: string[];
  try {
    const userClaim = role.user_claim_json_pointer
      ? getClaim(claims, role.user_claim)
      : Object.hasOwn(claims, role.user_claim)
        ? claims[role.user_claim]
        : undefined;
    if (userClaim === undefined || userClaim === null) throw new Error(`claim ${JSON.stringify(role.user_claim)} not found in token`);
    if (typeof userClaim !== "string") throw new Error(`claim ${JSON.stringify(role.user_claim)} could not be converted to string`);
    alias = { name: userClaim, metadata: { ...mappedMetadata(claims, role.claim_mappings), role: roleName } };
    groups = role.groups_claim === "" ? [] : groupNames(claims, role.groups_claim);
  } catch (error) {
    throw new LogicalError(400, (error as Error).message);
  }
  try {
    checkBoundClaims(role.bound_claims, role.bound_claims_type, claims);
  } catch (error) {
    throw new LogicalError(400, `error validating claims: ${(error as Error).message}`);
  }
  return { settings: tokenSettingsOf(role), metadata: { ...alias.metadata }, displayName: alias.name, alias, groupAliases: groups };
}
