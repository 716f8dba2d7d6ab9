import { InmemBackend } from "../../src/physical/inmem.js";
import { describeConformance } from "./conformance.js";

describeConformance("inmem", { create: async () => new InmemBackend() });
