/**
 * ZooKeeper over TLS (Vault's `tls_*` keys of `storage "zookeeper"`), for a server's
 * `secureClientPort`.
 *
 * node-zookeeper-client 1.1.3 dials plain TCP in one place, its connection manager's `connect`
 * (`net.connect(server)`, then the socket's events bound to the manager's handlers). `dialTls`
 * replaces that one method on a client's own manager with the same steps over `tls.connect`, the
 * session starting on `secureConnect` (after the server's certificate was checked) instead of on
 * `connect`. Nothing else of the library changes; the version is pinned, and the TLS tests fail if
 * its internals move.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { type ConnectionOptions, type SecureVersion, connect as tlsConnect } from "node:tls";
import type { Client } from "node-zookeeper-client";
import type { ConfigError } from "../../../src/config/types.js";
import type { StorageOptions } from "../../../src/physical/options.js";

export interface ZooKeeperTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  skipVerify: boolean;
  minVersion: SecureVersion;
}

/** Vault's names; below TLS 1.2 is refused. */
const MIN_VERSIONS: Record<string, SecureVersion> = { tls12: "TLSv1.2", tls13: "TLSv1.3" };

/**
 * The stanza's TLS keys, or null without `tls_enable` (Vault's documented key; Vault's own code
 * reads `tls_enabled`, so that spelling is accepted too).
 */
export function zookeeperTlsFiles(o: StorageOptions): ZooKeeperTlsFiles | null {
  const enabled = o.bool("tls_enable", false) || o.bool("tls_enabled", false);
  const files = { caFile: o.string("tls_ca_file"), certFile: o.string("tls_cert_file"), keyFile: o.string("tls_key_file") };
  if (!enabled) {
    const given = Object.entries({ tls_ca_file: files.caFile, tls_cert_file: files.certFile, tls_key_file: files.keyFile }).find(([, file]) => file);
    if (given) throw o.error(`${given[0]} is set but TLS is off: add tls_enable = "true" (the server's secureClientPort) or remove it`);
    return null;
  }
  if (!files.certFile !== !files.keyFile) throw o.error("tls_cert_file and tls_key_file go together: set both or neither");
  const minText = o.string("tls_min_version") ?? "tls12";
  const minVersion = MIN_VERSIONS[minText];
  if (!minVersion) {
    throw o.error(`tls_min_version "${minText}" is not accepted: use "tls12" (the default) or "tls13"; older TLS versions are refused`);
  }
  return { ...files, skipVerify: o.bool("tls_skip_verify", false), minVersion };
}

/** Reads the PEM files into TLS options (the server is verified unless `skipVerify`). */
export async function loadZooKeeperTls(files: ZooKeeperTlsFiles, error: (message: string) => ConfigError): Promise<ConnectionOptions> {
  const read = async (key: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return await readFile(file);
    } catch (cause) {
      throw error(`${key} "${file}" cannot be read: ${(cause as Error).message}`);
    }
  };
  const [ca, cert, key] = await Promise.all([read("tls_ca_file", files.caFile), read("tls_cert_file", files.certFile), read("tls_key_file", files.keyFile)]);
  return { ca, cert, key, minVersion: files.minVersion, rejectUnauthorized: !files.skipVerify };
}

/** The parts of the library's connection manager that `connect` uses (lib/ConnectionManager.js). */
interface ConnectionManager {
  socket: unknown;
  connectTimeout: number;
  connectTimeoutHandler: ReturnType<typeof setTimeout>;
  setState(state: number): void;
  findNextServer(callback: (server: { host: string; port: number }) => void): void;
  onSocketConnectTimeout(): void;
  onSocketConnected(): void;
  onSocketData(data: Buffer): void;
  onSocketDrain(): void;
  onSocketClosed(hadError: boolean): void;
  onSocketError(error: Error): void;
  connect(): void;
}

/** The manager's CONNECTING state (ConnectionManager.STATES.CONNECTING). */
const CONNECTING = 1;

/**
 * Makes `client` dial its servers over TLS with `options`. Returns the last TLS or socket error
 * seen, so a connection that never comes up can say why (the library only retries).
 */
export function dialTls(client: Client, options: ConnectionOptions): () => Error | null {
  const manager = (client as unknown as { connectionManager?: ConnectionManager }).connectionManager;
  if (typeof manager?.findNextServer !== "function" || typeof manager.onSocketConnected !== "function") {
    throw new Error("node-zookeeper-client's connection manager is not the one ZooKeeper TLS was written for (1.1.3)");
  }
  let lastError: Error | null = null;
  manager.connect = function connectOverTls(this: ConnectionManager) {
    this.setState(CONNECTING);
    this.findNextServer((server) => {
      const socket = tlsConnect({
        ...options,
        host: server.host,
        port: server.port,
        // SNI takes a host name only; an IP address is still checked against the certificate's IP SANs.
        ...(isIP(server.host) ? {} : { servername: server.host }),
      });
      this.socket = socket;
      this.connectTimeoutHandler = setTimeout(this.onSocketConnectTimeout.bind(this), this.connectTimeout);
      socket.setNoDelay();
      socket.on("secureConnect", this.onSocketConnected.bind(this));
      socket.on("data", this.onSocketData.bind(this));
      socket.on("drain", this.onSocketDrain.bind(this));
      socket.on("close", this.onSocketClosed.bind(this));
      socket.on("error", (error) => {
        lastError = error;
        this.onSocketError(error);
      });
    });
  };
  return () => lastError;
}
