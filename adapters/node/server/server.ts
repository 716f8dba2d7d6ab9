import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { DEFAULT_STANDBY_HOLD_MS } from "../../../src/config/parse.js";
import { defaultClusterPort, joinHostPort } from "../../../src/config/listener.js";
import { ConfigError, type ListenerConfig, type LogLevel, type ServerConfig } from "../../../src/config/types.js";
import { Core } from "../../../src/core.js";
import { BoundAddresses, type NodeAddresses } from "../../../src/ha/addresses.js";
import { createApp } from "../../../src/http/app.js";
import { createLogger, type Logger } from "../../../src/sdk/logger.js";
import { selectHABackend } from "../../../src/physical/registry.js";
import { configuredSeal } from "../../../src/seal/registry.js";
import { VERSION } from "../../../src/sdk/version.js";
import { watchInitialization } from "../../../src/seal/initialization-watch.js";
import { AuditBroker } from "../../../src/audit/broker.js";
import { nodeAuditSinks } from "./audit-sinks.js";
import { PrometheusMetrics } from "./prometheus-metrics.js";
import { measuredBackend } from "../../../src/metrics/measured-backend.js";
import { DEFAULT_PROMETHEUS_RETENTION_MS } from "../../../src/config/telemetry.js";
import { startAutoUnseal } from "./auto-unseal.js";
import { nodeDrivers } from "../stores/backends.js";
import { ClusterListeners } from "./cluster-listener.js";
import { loadServerConfig } from "./config-file.js";
import { ClusterForwarder } from "./forwarder.js";
import { parseArgs, UsageError } from "../cli/flags.js";
import { type RunningListener, splitHostPort, startApiListener } from "./http-listener.js";
import { installTestHooks } from "./test-hooks.js";
import { customCaTransport } from "./custom-ca-transport.js";
import { setCustomCaTransport } from "../../../src/sdk/outbound-http.js";
import { nodeAesGcm } from "./node-aes-gcm.js";
import { installPlatformCrypto } from "../../../src/sdk/platform-crypto.js";
import { installRuntimeBase64 } from "../../../src/sdk/encoding.js";
import { nodeBase64 } from "./node-base64.js";
import { nodeRsaDigestSigning, nodeRsaSigning } from "./node-rsa-digest.js";
import { nodeRsaOaep } from "./node-rsa-oaep.js";
import { tuneV8ForServing } from "./v8-flags.js";
import { LockWorker, lockingInWorker, lockStanza, locksInWorker, stallTimeoutMs } from "./worker-lock.js";
import type { Backend } from "../../../src/physical/backend.js";
import type { HABackend } from "../../../src/physical/ha.js";

const DEV_LISTEN_ADDRESS = "127.0.0.1:8200";
const DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024;

interface ServerFlags {
  configPaths: string[];
  dev: boolean;
  devRootTokenId?: string;
  devListenAddress: string;
  logLevel?: LogLevel;
}

/** `strongbox server`: runs until SIGINT/SIGTERM; resolves with the process exit code. */
export async function runServer(args: string[]): Promise<number> {
  let flags: ServerFlags;
  try {
    flags = parseServerFlags(args);
  } catch (error) {
    process.stderr.write(
      `Error: ${(error as Error).message}\nUsage: strongbox server -config=FILE [-config=FILE ...] | -dev [-dev-root-token-id=ID] [-dev-listen-address=HOST:PORT]\n`,
    );
    return 1;
  }
  tuneV8ForServing();
  let running: Awaited<ReturnType<typeof startNode>>;
  try {
    running = await startNode(flags);
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    process.stderr.write(`Error: ${message}\n`);
    return 1;
  }
  return new Promise((resolve) => {
    const shutdown = async (signal: string) => {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      running.logger.info(`${signal} received, shutting down`);
      try {
        await running.stop();
        resolve(0);
      } catch (error) {
        // The handlers are gone: without this the process would neither finish stopping nor exit.
        running.logger.error("shutdown failed", { error: String(error) });
        resolve(1);
      }
    };
    const onSigint = () => void shutdown("SIGINT");
    const onSigterm = () => void shutdown("SIGTERM");
    process.on("SIGINT", onSigint);
    process.on("SIGTERM", onSigterm);
  });
}

const SERVER_FLAGS = {
  config: { kind: "list", usage: "Path to a configuration file or directory (repeatable)", placeholder: "FILE" },
  dev: { kind: "bool", usage: "In-memory, auto-initialised and unsealed development server" },
  "dev-root-token-id": { kind: "string", usage: "Root token ID for -dev", placeholder: "ID" },
  "dev-listen-address": { kind: "string", usage: "Address for -dev to listen on (default 127.0.0.1:8200)", placeholder: "HOST:PORT" },
  "log-level": { kind: "string", usage: "trace, debug, info, warn or error", placeholder: "LEVEL" },
} as const;

function parseServerFlags(argv: string[]): ServerFlags {
  const { flags, args } = parseArgs(argv, SERVER_FLAGS);
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
  if (!flags.dev && flags.config.length === 0) throw new UsageError("-config is required (or use -dev for an in-memory development server)");
  const logLevel = flags["log-level"]?.toLowerCase();
  if (logLevel !== undefined && !["trace", "debug", "info", "warn", "error"].includes(logLevel)) {
    throw new UsageError(`-log-level must be one of trace, debug, info, warn, error (got ${JSON.stringify(flags["log-level"])})`);
  }
  return {
    configPaths: flags.config,
    dev: flags.dev ?? false,
    devRootTokenId: flags["dev-root-token-id"] ?? process.env.VAULT_DEV_ROOT_TOKEN_ID,
    devListenAddress: flags["dev-listen-address"] ?? process.env.VAULT_DEV_LISTEN_ADDRESS ?? DEV_LISTEN_ADDRESS,
    logLevel: logLevel as LogLevel | undefined,
  };
}

function devConfig(listenAddress: string): ServerConfig {
  const { host, port } = splitHostPort(listenAddress);
  const listener: ListenerConfig = {
    type: "tcp",
    address: listenAddress,
    clusterAddress: joinHostPort(host, defaultClusterPort(port)),
    tlsDisable: true,
    maxRequestSize: DEFAULT_MAX_REQUEST_SIZE,
  };
  return {
    storage: { type: "inmem", options: {} },
    listeners: [listener],
    apiAddr: `http://${listenAddress}`,
    clusterAddr: `https://${listener.clusterAddress}`,
    disableClustering: false,
    logLevel: "info",
    ui: false,
    standbyHoldMs: DEFAULT_STANDBY_HOLD_MS,
    shutdownDelayMs: 0,
    standbyReads: true,
    allowAuditLogPrefixing: false,
    files: [],
    warnings: [],
  };
}

async function startNode(flags: ServerFlags): Promise<{ logger: Logger; stop(): Promise<void> }> {
  const storageTypes = Object.fromEntries(Object.entries(nodeDrivers).map(([type, driver]) => [type, { ha: driver.ha }]));
  const config = flags.dev ? devConfig(flags.devListenAddress) : await loadServerConfig(flags.configPaths, process.env, storageTypes);
  const logger = createLogger(flags.logLevel ?? config.logLevel, (line) => process.stderr.write(`${line}\n`));
  const metrics = new PrometheusMetrics(config.telemetry ?? { prometheusRetentionMs: DEFAULT_PROMETHEUS_RETENTION_MS, disableHostname: false });
  const storage = await nodeDrivers[config.storage.type]!.create(config.storage.options, process.env);
  const selectedLockStore = await selectHABackend(nodeDrivers, config, storage, process.env);
  const lockStore = selectedLockStore && (await lockingInWorkerIfShared(selectedLockStore, config, flags.logLevel ?? config.logLevel, logger));
  // Storage latency and errors are measured; a store that also holds the lock stays one object.
  const physical = measuredBackend(selectedLockStore === storage ? lockStore! : storage, config.storage.type, metrics);
  const haBackend = lockStore && (selectedLockStore === storage ? (physical as typeof lockStore) : lockStore);
  const removeTestHooks = installTestHooks(process.env, logger);
  const forwarder = haBackend && !config.disableClustering ? new ClusterForwarder() : undefined;
  const clusterLogger = logger.named("cluster");
  const addresses = new BoundAddresses();
  let clusterListeners: ClusterListeners | undefined;
  const audit = new AuditBroker(nodeAuditSinks, logger, metrics, config.allowAuditLogPrefixing);
  // Auth methods fetching keys or TokenReviews from servers behind an operator-given CA.
  setCustomCaTransport(customCaTransport);
  installPlatformCrypto({ aesGcm: nodeAesGcm, rsaDigest: nodeRsaDigestSigning, rsaOaep: nodeRsaOaep, rsaSigning: nodeRsaSigning });
  installRuntimeBase64(nodeBase64);
  const core = new Core({
    observability: { audit, metrics },
    physical,
    seal: configuredSeal(config.seals, physical, logger.named("seal")),
    storageType: config.storage.type,
    cache: { disabled: config.disableCache, entries: config.cacheSize },
    leaseTtls: config.leaseTtls,
    logger,
    ha: haBackend && {
      backend: haBackend,
      nodeId: randomUUID(),
      hostname: hostname(),
      addresses,
      forwarder,
      onActive: (advertisement) =>
        clusterListeners?.start(advertisement).catch((error) => {
          clusterLogger.error("cluster listener failed to start; standbys will redirect instead of forwarding", { error: String(error) });
        }),
      onStandby: () => void clusterListeners?.stop(),
      standbyReads: config.standbyReads,
      metrics,
      audit,
    },
  });
  // Until the node has seen the cluster initialised, so sys/health can answer from memory.
  const stopWatchingInitialization = watchInitialization(core, logger.named("core"));
  const app = createApp({
    core,
    // Forwarded requests: the standby's listener applied its own limit.
    maxRequestSize: Math.max(...config.listeners.map((l) => l.maxRequestSize)),
    logger,
    standbyHoldMs: config.standbyHoldMs,
    metrics,
  });

  const listeners: RunningListener[] = [];
  try {
    for (const listener of config.listeners) listeners.push(await startApiListener(listener, app.fetch));
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    throw error;
  }
  const bound = boundAddresses(config, listeners);
  addresses.bind(bound);
  const leadership = core.leadership;
  if (forwarder && leadership) {
    clusterListeners = new ClusterListeners(bound.clusterListenAddresses, app.fetch, leadership, clusterLogger);
  }
  printBanner(config, bound, haBackend !== undefined);
  for (const warning of config.warnings) logger.warn(warning);
  if (flags.dev) await initialiseDevNode(core, bound.apiAddr, flags.devRootTokenId);
  process.stdout.write("==> Strongbox server started! Log data will stream in below:\n\n");
  // After the listeners are up, so a node waiting on KMS still answers health (503) and seal-status.
  const autoUnseal = core.unsealsItself ? startAutoUnseal(core, logger.named("seal")) : undefined;
  // Log rotation: file audit devices reopen their files.
  const onSighup = () => void audit.reopen();
  process.on("SIGHUP", onSighup);

  return {
    logger,
    async stop() {
      autoUnseal?.stop();
      removeTestHooks();
      stopWatchingInitialization();
      process.off("SIGHUP", onSighup);
      // Health says "draining" and every answer closes its connection: within shutdown_delay a
      // load balancer stops sending here and kept-alive clients reconnect to other nodes.
      core.beginDraining();
      for (const listener of listeners) listener.beginDraining();
      if (config.shutdownDelayMs > 0) {
        logger.info("draining: sys/health reports it and connections close after each answer while load balancers stop sending", {
          shutdown_delay_ms: config.shutdownDelayMs,
        });
        await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      }
      // Lets the requests inside finish, then releases the HA lock, so a standby takes over at once.
      await core.seal();
      // Only now the connections: an idle one closed earlier could meet a request on its way in.
      await Promise.all(listeners.map((l) => l.close()));
      await clusterListeners?.stop();
      forwarder?.close();
      // A store with a connection of its own (ZooKeeper's session) would keep the process alive.
      for (const store of new Set([physical, haBackend])) (store as { close?(): void } | undefined)?.close?.();
    },
  };
}

/**
 * The lock held from a worker thread (worker-lock.ts), where request work cannot delay its renewals;
 * an in-memory store's lock stays in-process, since a worker cannot reach the main thread's memory.
 */
async function lockingInWorkerIfShared<T extends Backend & HABackend>(store: T, config: ServerConfig, logLevel: LogLevel, logger: Logger): Promise<T> {
  const stanza = lockStanza(config);
  if (!locksInWorker(stanza)) return store;
  const worker = await LockWorker.start({
    stanza,
    leaseMs: store.leaseMs,
    stallTimeoutMs: stallTimeoutMs(stanza, store.leaseMs, config.files, process.env),
    logLevel,
    logger: logger.named("ha"),
  });
  return lockingInWorker(store, worker);
}

interface BoundNodeAddresses extends NodeAddresses {
  /** Per listener, the address it is bound to and its cluster listener's address. */
  listenAddresses: string[];
  clusterListenAddresses: string[];
}

/** The configured addresses with every port 0 replaced by the port its listener was given. */
function boundAddresses(config: ServerConfig, listeners: RunningListener[]): BoundNodeAddresses {
  const clusterListenAddresses = config.listeners.map((listener, i) => {
    const { host, port } = splitHostPort(listener.clusterAddress);
    return port === 0 ? joinHostPort(host, defaultClusterPort(listeners[i]!.port)) : listener.clusterAddress;
  });
  return {
    apiAddr: withPort(config.apiAddr, listeners[0]!.port),
    clusterAddr: withPort(config.clusterAddr, splitHostPort(clusterListenAddresses[0]!).port),
    listenAddresses: listeners.map((l) => l.address),
    clusterListenAddresses,
  };
}

function withPort(address: string, boundPort: number): string {
  const url = new URL(address);
  if (url.port !== "0") return address;
  url.port = String(boundPort);
  return url.origin;
}

function printBanner(config: ServerConfig, bound: BoundNodeAddresses, haEnabled: boolean): void {
  const rows: [string, string][] = [
    ["Api Address", bound.apiAddr],
    ["Cluster Address", bound.clusterAddr],
    ...config.listeners.map((l, i): [string, string] => [
      `Listener ${i + 1}`,
      `tcp (addr: "${bound.listenAddresses[i]}", cluster address: "${bound.clusterListenAddresses[i]}", max_request_size: "${Number.isFinite(l.maxRequestSize) ? l.maxRequestSize : 0}", tls: "${l.tlsDisable ? "disabled" : "enabled"}")`,
    ]),
    ["Log Level", config.logLevel],
    ["Storage", `${config.storage.type}${storageHANote(config, haEnabled)}`],
  ];
  if (config.haStorage) rows.push(["HA Storage", config.haStorage.type]);
  rows.push(["Version", `Strongbox v${VERSION}`]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 12;
  process.stdout.write(`==> Strongbox server configuration:\n\n${rows.map(([k, v]) => `${k.padStart(width)}: ${v}`).join("\n")}\n\n`);
}

/** Vault's banner note: whether the data storage could also hold the HA lock. */
function storageHANote(config: ServerConfig, haEnabled: boolean): string {
  if (!nodeDrivers[config.storage.type]?.ha) return "";
  return haEnabled || config.haStorage ? " (HA available)" : " (HA disabled)";
}

async function initialiseDevNode(core: Core, apiAddr: string, rootTokenId: string | undefined): Promise<void> {
  const init = await core.initialize({ secret_shares: 1, secret_threshold: 1, rootTokenId });
  await core.submitUnsealKey(Uint8Array.from(Buffer.from(init.keys_base64[0]!, "base64")));
  await core.enableMount("secret/", { type: "kv", options: { version: "2" }, description: "key/value secret storage" });
  process.stdout.write(
    [
      "WARNING! dev mode is enabled! In this mode, Strongbox runs entirely in-memory",
      "and starts unsealed with a single unseal key.",
      "",
      "You may need to set the following environment variables:",
      "",
      `    $ export VAULT_ADDR='${apiAddr}'`,
      `    $ export VAULT_TOKEN='${init.root_token}'`,
      "",
      "The unseal key and root token are displayed below in case you want to",
      "seal/unseal the Vault or re-authenticate.",
      "",
      `Unseal Key: ${init.keys_base64[0]}`,
      `Root Token: ${init.root_token}`,
      "",
      "Development mode should NOT be used in production installations!",
      "",
      "",
    ].join("\n"),
  );
}
