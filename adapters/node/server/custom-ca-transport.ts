/**
 * Outbound HTTPS that trusts a CA given per request (`jwks_ca_pem`, `oidc_discovery_ca_pem`,
 * `kubernetes_ca_cert`), which Web `fetch` cannot do: Node's https with `ca` set (the system
 * roots are then not trusted, as Vault's pool built from the PEM alone). Installed by the server.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { OUTBOUND_MAX_BODY_BYTES, OUTBOUND_TIMEOUT_MS, type OutboundTransport } from "../../../src/sdk/outbound-http.js";

export const customCaTransport: OutboundTransport = ({ method, url, headers, body, caPem }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const outgoing = send(target, { method, headers, ca: caPem, timeout: OUTBOUND_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      let total = 0;
      response.on("data", (chunk: Buffer) => {
        total += chunk.length;
        if (total > OUTBOUND_MAX_BODY_BYTES) {
          response.destroy();
          reject(new Error(`response larger than ${OUTBOUND_MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error("request timed out")));
    outgoing.on("error", reject);
    outgoing.end(body);
  });
