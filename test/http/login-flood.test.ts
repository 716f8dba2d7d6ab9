/**
 * Failed userpass logins each cost a PBKDF2 derivation on the thread pool every WebCrypto call
 * shares; a flood of them must not hold up other requests.
 */
import { describe, expect, it } from "vitest";
import { unsealedServer } from "../helpers/in-process-server.js";

const FLOOD = 16;

describe("login flood", () => {
  it("a read finishes while most of a flood of failing logins is still waiting its turn", async () => {
    const h = await unsealedServer();
    await h.call("POST", "sys/mounts/secret", { type: "kv" }, h.root);
    await h.call("PUT", "secret/app", { answer: "42" }, h.root);
    await h.call("POST", "sys/auth/userpass", { type: "userpass" }, h.root);
    await h.call("PUT", "auth/userpass/login/warm-up", { password: "wrong" }); // the decoy hash exists from here on

    let loginsDone = 0;
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      h.call("PUT", `auth/userpass/login/nobody-${i}`, { password: "wrong" }).then((result) => {
        loginsDone++;
        return result.status;
      }),
    );
    const read = await h.call("GET", "secret/app", undefined, h.root);
    const loginsDoneWhenReadFinished = loginsDone;
    expect(read.body.data).toEqual({ answer: "42" });
    expect(await Promise.all(flood)).toEqual(Array(FLOOD).fill(400));
    // Unbounded, the read's decryptions queue behind the whole flood's derivations.
    expect(loginsDoneWhenReadFinished).toBeLessThan(FLOOD / 2);
  }, 90_000); // sixteen 600k-iteration derivations on a shared machine
});
