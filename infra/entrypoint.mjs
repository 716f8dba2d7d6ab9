#!/usr/bin/env node
/**
 * Container entrypoint: gives the node its own addresses, writes its listener stanza, then runs
 * `strongbox server` in this same process (so the server itself receives SIGTERM and releases the
 * HA lock on the way out).
 *
 * Environment:
 *   VAULT_API_ADDR, VAULT_CLUSTER_ADDR
 *       used as they are when set; otherwise https?://<task private IPv4>:8200 and
 *       https://<task private IPv4>:8201, the IPv4 read from the ECS task metadata endpoint v4
 *       (ECS_CONTAINER_METADATA_URI_V4, set by ECS). The CDK stack sets VAULT_API_ADDR to this node's
 *       own port on the load balancer (never the port every node shares).
 *   STRONGBOX_PROXY_PROTOCOL_AUTHORIZED_ADDRS
 *       comma-separated CIDRs the load balancer connects from; it sends a PROXY protocol v2 header on every
 *       connection: the listener takes the client's address from the header on connections from
 *       these addresses (`proxy_protocol_behavior = "allow_authorized"`). Unset: no PROXY protocol.
 *   STRONGBOX_TLS_CERT, STRONGBOX_TLS_KEY
 *       PEM certificate (chain) and private key, both or neither (ECS injects them from Secrets
 *       Manager). With them the listener serves TLS and the API address is https; without, http.
 *   STRONGBOX_CONFIG       base configuration, file or directory (default /etc/strongbox/strongbox.hcl)
 *   STRONGBOX_RUNTIME_DIR  where the listener stanza and TLS files are written (default /run/strongbox)
 * Arguments are passed on to `strongbox server` (e.g. -log-level=debug).
 */
import { mkdir, realpath, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const API_PORT = 8200;
const CLUSTER_PORT = 8201;
/**
 * For the metrics collector beside the node (infra/cdk/monitoring.ts METRICS_PORT): loopback only,
 * which nothing outside the task reaches, so plain HTTP and sys/metrics without a token.
 */
const METRICS_PORT = 8202;
const METADATA_ATTEMPTS = 5;
const METADATA_RETRY_MS = 500;
const METADATA_TIMEOUT_MS = 2000;
const CLI = new URL("../dist/adapters/node/cli.js", import.meta.url);

/**
 * Works out the server's arguments and the address variables it needs, writing the listener
 * stanza (and TLS files) into the runtime directory.
 * @param {Record<string, string | undefined>} env
 * @returns {Promise<{ args: string[], env: { VAULT_API_ADDR: string, VAULT_CLUSTER_ADDR: string } }>}
 */
export async function prepare(env) {
  const tls = tlsFromEnv(env);
  const runtimeDir = env.STRONGBOX_RUNTIME_DIR || "/run/strongbox";
  await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
  const listener = { address: `0.0.0.0:${API_PORT}`, cluster_address: `0.0.0.0:${CLUSTER_PORT}` };
  const proxyAddrs = env.STRONGBOX_PROXY_PROTOCOL_AUTHORIZED_ADDRS;
  if (proxyAddrs) {
    Object.assign(listener, { proxy_protocol_behavior: "allow_authorized", proxy_protocol_authorized_addrs: proxyAddrs });
  }
  if (tls) {
    const certFile = join(runtimeDir, "tls.crt");
    const keyFile = join(runtimeDir, "tls.key");
    await writeFile(certFile, tls.cert, { mode: 0o600 });
    await writeFile(keyFile, tls.key, { mode: 0o600 });
    Object.assign(listener, { tls_cert_file: certFile, tls_key_file: keyFile });
  } else {
    Object.assign(listener, { tls_disable: true });
  }
  const listenerFile = join(runtimeDir, "listener.hcl");
  const metricsListener = listenerStanza(
    { address: `127.0.0.1:${METRICS_PORT}`, cluster_address: `127.0.0.1:${METRICS_PORT + 1}`, tls_disable: true },
    "telemetry {\n    unauthenticated_metrics_access = true\n  }",
  );
  // The API listener first: the server takes its defaults from the first listener.
  await writeFile(listenerFile, `# Written by infra/entrypoint.mjs at container start.\n${listenerStanza(listener)}${metricsListener}`, { mode: 0o600 });

  let apiAddr = env.VAULT_API_ADDR;
  let clusterAddr = env.VAULT_CLUSTER_ADDR;
  if (!apiAddr || !clusterAddr) {
    const ip = await taskIPv4(env.ECS_CONTAINER_METADATA_URI_V4);
    apiAddr ||= `${tls ? "https" : "http"}://${ip}:${API_PORT}`;
    clusterAddr ||= `https://${ip}:${CLUSTER_PORT}`;
  }
  return {
    args: ["server", `-config=${env.STRONGBOX_CONFIG || "/etc/strongbox/strongbox.hcl"}`, `-config=${listenerFile}`],
    env: { VAULT_API_ADDR: apiAddr, VAULT_CLUSTER_ADDR: clusterAddr },
  };
}

/**
 * This task's private IPv4 from `${metadataUri}/task`: in awsvpc mode (Fargate) every container
 * shares the task's network interface, so the first address listed is the task's.
 * @param {string | undefined} metadataUri
 * @returns {Promise<string>}
 */
async function taskIPv4(metadataUri) {
  if (!metadataUri) {
    throw new EntrypointError(
      "VAULT_API_ADDR and VAULT_CLUSTER_ADDR are not both set, and ECS_CONTAINER_METADATA_URI_V4 is missing " +
        "(not on ECS, or on a Fargate platform older than 1.4.0) to derive them from: set both to this node's own address, " +
        `e.g. VAULT_API_ADDR=https://10.0.1.17:${API_PORT} VAULT_CLUSTER_ADDR=https://10.0.1.17:${CLUSTER_PORT}`,
    );
  }
  const url = `${metadataUri}/task`;
  const task = await fetchMetadata(url);
  const ip = task?.Containers?.flatMap((container) => container?.Networks ?? []).find(
    (network) => network?.NetworkMode === "awsvpc" && network.IPv4Addresses?.length,
  )?.IPv4Addresses[0];
  if (typeof ip !== "string" || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    throw new EntrypointError(
      `ECS task metadata at ${url} lists no awsvpc network with an IPv4 address ` +
        "(the task must use the awsvpc network mode, as Fargate does); set VAULT_API_ADDR and VAULT_CLUSTER_ADDR instead",
    );
  }
  return ip;
}

/** @param {string} url */
async function fetchMetadata(url) {
  let failure = "";
  for (let attempt = 1; attempt <= METADATA_ATTEMPTS; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, METADATA_RETRY_MS));
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(METADATA_TIMEOUT_MS) });
      if (response.ok) return await response.json();
      failure = `HTTP ${response.status} ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      failure = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ""}` : String(error);
    }
  }
  throw new EntrypointError(`cannot read ECS task metadata from ${url} after ${METADATA_ATTEMPTS} attempts: ${failure}`);
}

/** @param {Record<string, string | undefined>} env */
function tlsFromEnv(env) {
  const cert = env.STRONGBOX_TLS_CERT;
  const key = env.STRONGBOX_TLS_KEY;
  if (!cert && !key) return undefined;
  if (!cert || !key) {
    throw new EntrypointError(`STRONGBOX_TLS_CERT and STRONGBOX_TLS_KEY must be set together (only ${cert ? "the certificate" : "the key"} is set)`);
  }
  if (!cert.includes("-----BEGIN CERTIFICATE-----") || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new EntrypointError("STRONGBOX_TLS_CERT must hold a PEM certificate and STRONGBOX_TLS_KEY a PEM private key");
  }
  return { cert, key };
}

/**
 * @param {Record<string, string | boolean>} settings
 * @param {string} [block] a nested block, as HCL
 */
function listenerStanza(settings, block) {
  // JSON string and boolean literals are valid HCL literals.
  const lines = Object.entries(settings).map(([key, value]) => `  ${key} = ${JSON.stringify(value)}`);
  if (block) lines.push(`  ${block}`);
  return `listener "tcp" {\n${lines.join("\n")}\n}\n`;
}

class EntrypointError extends Error {}

async function main() {
  const [node = "node", , ...extraArgs] = process.argv;
  try {
    const { args, env } = await prepare(process.env);
    Object.assign(process.env, env);
    process.stderr.write(`strongbox entrypoint: api_addr ${env.VAULT_API_ADDR}, cluster_addr ${env.VAULT_CLUSTER_ADDR}\n`);
    // The CLI reads its arguments from process.argv when it loads.
    process.argv = [node, fileURLToPath(CLI), ...args, ...extraArgs];
  } catch (error) {
    if (!(error instanceof EntrypointError)) throw error;
    process.stderr.write(`strongbox entrypoint: ${error.message}\n`);
    process.exit(1);
  }
  await import(CLI.href);
}

if (process.argv[1] && import.meta.url === pathToFileURL(await realpath(process.argv[1])).href) await main();
