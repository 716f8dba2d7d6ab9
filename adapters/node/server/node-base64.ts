import type { RuntimeBase64 } from "../../../src/sdk/encoding.js";

/** Base64 through Node's Buffer (native code), for src/sdk/encoding.ts. */
export const nodeBase64: RuntimeBase64 = {
  encode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64"),
  decode: (text) => {
    const bytes = Buffer.from(text, "base64");
    // A plain view, not a Buffer: the core's Uint8Array methods (slice copies) behave as it expects.
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  },
};
