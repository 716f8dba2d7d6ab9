import { ConfigError, type ListenerConfig } from "./types.js";
import { joinHostPort, splitHostPort } from "./listener.js";
import { type Env, envValue, type FromFile, quote } from "./values.js";

export function resolveApiAddr(env: Env, fromFile: FromFile<string> | undefined, listener: ListenerConfig, warnings: string[]): URL {
  const fromEnv = envValue(env, "VAULT_API_ADDR");
  if (fromEnv !== undefined) return parseUrlAddress(fromEnv, "VAULT_API_ADDR", ["http", "https"], warnings);
  if (fromFile) return parseUrlAddress(fromFile.value, `${fromFile.file}: "api_addr"`, ["http", "https"], warnings);

  const { host, port } = splitHostPort(listener.address)!;
  const scheme = listener.tlsDisable ? "http" : "https";
  if (!isUnspecifiedHost(host)) return new URL(`${scheme}://${joinHostPort(host, port)}`);
  const derived = new URL(`${scheme}://127.0.0.1:${port}`);
  warnings.push(
    `api_addr is not set and the first listener listens on all interfaces (${listener.address}); ` +
      `using ${quote(derived.origin)}, which other nodes cannot reach: set api_addr or VAULT_API_ADDR`,
  );
  return derived;
}

export function resolveClusterAddr(env: Env, fromFile: FromFile<string> | undefined, apiAddr: URL, listener: ListenerConfig, warnings: string[]): URL {
  const fromEnv = envValue(env, "VAULT_CLUSTER_ADDR");
  const given =
    fromEnv !== undefined ? { raw: fromEnv, subject: "VAULT_CLUSTER_ADDR" } : fromFile && { raw: fromFile.value, subject: `${fromFile.file}: "cluster_addr"` };
  if (!given) {
    const { port } = splitHostPort(listener.clusterAddress)!;
    return new URL(`https://${apiAddr.hostname}:${port}`);
  }
  let raw = given.raw.trim();
  // Cluster traffic is always mutual TLS, so an http:// address can only be a slip.
  if (/^http:\/\//i.test(raw)) {
    raw = `https://${raw.slice("http://".length)}`;
    warnings.push(`${given.subject}: the cluster port always uses TLS; using ${quote(raw)} instead of ${quote(given.raw)}`);
  }
  return parseUrlAddress(raw, given.subject, ["https"], warnings);
}

/** A full URL reduced to scheme://host[:port]; IPv6 hosts must come in brackets so the port is unambiguous. */
function parseUrlAddress(raw: string, subject: string, schemes: string[], warnings: string[]): URL {
  const text = raw.trim();
  const allowed = schemes.join(" or ");
  const schemeEnd = text.indexOf("://");
  if (schemeEnd < 0) {
    throw new ConfigError(`${subject} must be a full URL with scheme ${allowed}, got ${quote(raw)}; ` + `add "https://", e.g. ${quote(`https://${text}`)}`);
  }
  const scheme = text.slice(0, schemeEnd).toLowerCase();
  if (!schemes.includes(scheme)) {
    throw new ConfigError(`${subject} must use scheme ${allowed}, got ${quote(raw)}`);
  }
  const authority = text.slice(schemeEnd + 3).split(/[/?#]/, 1)[0] ?? "";
  if (authority.includes("@")) {
    throw new ConfigError(`${subject} must not contain a user name or password`);
  }
  if (!authority.startsWith("[") && authority.split(":").length > 2) {
    throw new ConfigError(
      `${subject} has an IPv6 address without brackets, which makes the port ambiguous; ` + `write it like "${scheme}://[::1]:8200", got ${quote(raw)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${subject} is not a valid URL: ${quote(raw)}`);
  }
  if (url.pathname !== "/" || url.search || url.hash) {
    warnings.push(`${subject}: only scheme, host and port are used; ignoring the rest of ${quote(raw)}`);
  }
  return new URL(url.origin);
}

function isUnspecifiedHost(host: string): boolean {
  if (host === "" || host === "0.0.0.0") return true;
  return host.includes(":") && new URL(`http://[${host}]`).hostname === "[::]";
}
