import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { defaultHATimings } from "../../src/physical/lease.js";
import { describeConformance } from "./conformance.js";
import { lockConformance } from "./lock-conformance.js";

describeConformance("inmem_ha", { create: async () => new InmemHABackend() });

// On virtual time no slack for a loaded machine is needed: the defaults, and the longer lease the
// store tests used on real time (the renew interval an eighth of it, not a fifth).
lockConformance(defaultHATimings);
lockConformance({ ...defaultHATimings, leaseMs: 2400, renewIntervalMs: 300, retryIntervalMs: 150 });
