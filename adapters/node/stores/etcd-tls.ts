/**
 * `storage "etcd"` in the Node server: the core driver plus `tls_ca_file`, `tls_cert_file` and
 * `tls_key_file`, which need the filesystem and a TLS client certificate (fetch has neither).
 */
import { readFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { request as plainRequest } from "node:http";
import type { StorageDriver } from "../../../src/physical/driver.js";
import { EtcdBackend, etcdSettings } from "../../../src/physical/etcd.js";
import { type Transport, fetchTransport } from "../../../src/physical/etcd-client.js";
import { StorageOptions } from "../../../src/physical/options.js";

export const etcdNodeDriver: StorageDriver = {
  type: "etcd",
  ha: true,
  create: async (options, env) => {
    const settings = etcdSettings(options, env);
    const { caFile, certFile, keyFile } = settings.tls;
    if (!caFile && !certFile && !keyFile) return new EtcdBackend(settings, fetchTransport);
    const stanza = new StorageOptions("etcd", options, env);
    if (!certFile !== !keyFile) throw stanza.error("tls_cert_file and tls_key_file go together: set both or neither");
    const read = async (key: string, file: string | undefined) => {
      if (!file) return undefined;
      try {
        return await readFile(file);
      } catch (error) {
        throw stanza.error(`${key} "${file}" cannot be read: ${(error as Error).message}`);
      }
    };
    const [ca, cert, key] = await Promise.all([read("tls_ca_file", caFile), read("tls_cert_file", certFile), read("tls_key_file", keyFile)]);
    return new EtcdBackend(settings, tlsTransport(new Agent({ ca, cert, key, keepAlive: true })));
  },
};

/** POSTs over node:https with `agent` (its CA and client certificate); plain http URLs as usual. */
function tlsTransport(agent: Agent): Transport {
  return (url, body, headers, signal) =>
    new Promise((resolve, reject) => {
      const options = { method: "POST", headers: { "content-type": "application/json", ...headers }, signal };
      const req = url.startsWith("https:") ? request(url, { ...options, agent }) : plainRequest(url, options);
      req.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
}
