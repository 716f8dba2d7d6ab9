import type { Backend } from "../physical/backend.js";
import type { Seal } from "./seal.js";
import { ShamirSeal } from "./shamir.js";

/** How a `seal "<type>"` stanza becomes a Seal; Shamir when the configuration names none. */
export const sealTypes: Record<string, (physical: Backend, options: Record<string, string>) => Seal> = {
  shamir: (physical) => new ShamirSeal(physical),
};
