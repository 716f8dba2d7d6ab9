import type { SealStanza } from "../config/types.js";
import type { Backend } from "../physical/backend.js";
import { AwsKmsSeal, awsKmsSettings } from "./awskms.js";
import type { Seal } from "./seal.js";
import { ShamirSeal } from "./shamir.js";

/** How a `seal "<type>"` stanza becomes a Seal. */
export const sealTypes: Record<string, (physical: Backend, options: Record<string, string>) => Seal> = {
  shamir: (physical) => new ShamirSeal(physical),
  awskms: (physical, options) => new AwsKmsSeal(physical, awsKmsSettings(options)),
};

/** Vault's seal when the configuration names none: unseal keys split among key holders. */
export function defaultSeal(physical: Backend): Seal {
  return sealTypes.shamir!(physical, {});
}

/** The enabled `seal` stanza's seal, or the default without one. */
export function configuredSeal(stanzas: SealStanza[] | undefined, physical: Backend): Seal {
  const enabled = stanzas?.find((stanza) => !stanza.disabled);
  return enabled ? sealTypes[enabled.type]!(physical, enabled.options) : defaultSeal(physical);
}
