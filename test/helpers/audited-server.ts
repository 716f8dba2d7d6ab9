import { AuditBroker } from "../../src/audit/broker.js";
import type { AuditSink } from "../../src/audit/sink.js";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { createLogger, silentLogger } from "../../src/sdk/logger.js";
import { InmemBackend } from "../../src/physical/inmem.js";

/** An audit device whose sink keeps its lines, and refuses response lines while `refuseResponses` is set (a disk filling up between the two entries). */
export function recordingDevice() {
  const device = { lines: [] as string[], refuseResponses: false, entries: () => device.lines.map((line) => JSON.parse(line)) };
  const sink: AuditSink = {
    write: async (line) => {
      if (device.refuseResponses && JSON.parse(line).type === "response") throw new Error("no space left on device");
      device.lines.push(line);
    },
    reopen: async () => {},
    close: async () => {},
  };
  return { device, sink };
}

/**
 * An initialised, unsealed in-process server whose `file` audit devices all write to `sink`, with
 * a clock the test moves and the server's log lines kept.
 */
export async function serverWithAuditSink(sink: AuditSink, { allowPrefixing = false } = {}) {
  let clock = Date.now();
  const logLines: string[] = [];
  const broker = new AuditBroker({ file: () => sink }, silentLogger, undefined, allowPrefixing);
  const core = new Core({ physical: new InmemBackend(), storageType: "inmem", now: () => clock, observability: { audit: broker } });
  const app = createApp({ core, maxRequestSize: Infinity, logger: createLogger("info", (line) => logLines.push(line)) });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers: token ? { "x-vault-token": token } : {},
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      { clientAddress: "192.0.2.7" },
    );
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", { key: init.body.keys_base64[0] });
  return {
    app,
    call,
    root: init.body.root_token as string,
    unsealKey: init.body.keys_base64[0] as string,
    logLines,
    advance: (seconds: number) => (clock += seconds * 1000),
  };
}
