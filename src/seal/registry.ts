import type { SealStanza } from "../config/types.js";
import type { Backend } from "../physical/backend.js";
import { AwsKmsSeal, awsKmsSettings } from "./awskms.js";
import { type Logger, silentLogger } from "../sdk/logger.js";
import { MigratingSeal } from "./migration.js";
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

/**
 * The enabled `seal` stanza's seal, or the default without one. As in Vault, a `disabled = "true"`
 * stanza names the seal being migrated away from, and an auto seal alone may migrate from Shamir:
 * such a node enters migration mode when the stored seal is the old one.
 */
export function configuredSeal(stanzas: SealStanza[] | undefined, physical: Backend, logger: Logger = silentLogger): Seal {
  const seal = (stanza: SealStanza) => sealTypes[stanza.type]!(physical, stanza.options);
  const enabled = stanzas?.find((stanza) => !stanza.disabled);
  const disabled = stanzas?.find((stanza) => stanza.disabled);
  const to = enabled ? seal(enabled) : defaultSeal(physical);
  const from = disabled ? seal(disabled) : to.recoverySeal ? defaultSeal(physical) : null;
  return from && from.type !== to.type ? new MigratingSeal(from, to, physical, logger) : to;
}
