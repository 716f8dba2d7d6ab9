import type { LogicalState } from "../logical/state.js";
import { GenerateRoot } from "./generate-root.js";
import { Rekey } from "./rekey.js";
import type { Seal, UnsealKeyWrapping } from "./seal.js";

/**
 * The operations authorized by a threshold of operator key shares rather than a token: rekey of the
 * unseal keys, rekey of the recovery keys, and root token generation. Their progress lives in the
 * active node's memory, as Vault's does; sealing or losing active duty drops it.
 */
export class OperatorKeyOperations {
  readonly rekey: Rekey;
  readonly rekeyRecovery: Rekey;
  readonly generateRoot: GenerateRoot;

  constructor(seal: Seal, barrier: UnsealKeyWrapping, state: () => LogicalState) {
    this.rekey = new Rekey("unseal", seal, barrier);
    this.rekeyRecovery = new Rekey("recovery", seal, barrier);
    const createRootToken = async () => (await state().tokens.create({ policies: ["root"], path: "auth/token/root" })).token;
    this.generateRoot = new GenerateRoot(seal, barrier, createRootToken);
  }

  /** Forgets every share given (with the unseal reset, and at seal: a sealed node holds no key). */
  cancelAll(): void {
    this.rekey.cancel();
    this.rekeyRecovery.cancel();
    this.generateRoot.cancel();
  }
}
