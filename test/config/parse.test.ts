import { describe, expect, it } from "vitest";
import { splitHostPort } from "../../src/config/listener.js";
import { parseServerConfig, type ConfigSource } from "../../src/config/parse.js";
import { ConfigError, type ServerConfig } from "../../src/config/types.js";

const storageTypes = { inmem: { ha: false }, file: { ha: false }, dynamodb: { ha: true }, s3: { ha: false } };

const plainListener = { address: "127.0.0.1:8200", tls_disable: true };

/** A one-file config: inmem storage and a plain-HTTP listener, plus whatever the test adds. */
function parse(body: Record<string, unknown>, env: Record<string, string | undefined> = {}): ServerConfig {
  return parseServerConfig([{ file: "config.hcl", body: { storage: { inmem: {} }, listener: { tcp: plainListener }, ...body } }], env, storageTypes);
}

function parseError(sources: ConfigSource[], env: Record<string, string | undefined> = {}): string {
  try {
    parseServerConfig(sources, env, storageTypes);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

function errorOf(body: Record<string, unknown>, env: Record<string, string | undefined> = {}): string {
  return parseError([{ file: "config.hcl", body: { storage: { inmem: {} }, listener: { tcp: plainListener }, ...body } }], env);
}

function listenerError(listener: Record<string, unknown>): string {
  return errorOf({ listener: { tcp: [listener] } });
}

describe("parseServerConfig: shapes", () => {
  const expected: ServerConfig = {
    storage: { type: "dynamodb", options: { table: "vault", max_parallel: "128", ha_enabled: "true" } },
    haStorage: { type: "dynamodb", options: { table: "locks" } },
    listeners: [
      {
        type: "tcp",
        address: "0.0.0.0:8200",
        clusterAddress: "0.0.0.0:8201",
        tlsDisable: false,
        tlsCertFile: "/etc/tls/cert.pem",
        tlsKeyFile: "/etc/tls/key.pem",
        maxRequestSize: 1024,
      },
      {
        type: "tcp",
        address: "[::1]:9200",
        clusterAddress: "[::1]:9201",
        tlsDisable: true,
        maxRequestSize: 33554432,
      },
    ],
    apiAddr: "https://10.0.0.5:8200",
    clusterAddr: "https://10.0.0.5:8201",
    disableClustering: false,
    logLevel: "debug",
    ui: true,
    standbyHoldMs: 5000,
    shutdownDelayMs: 0,
    standbyReads: true,
    allowAuditLogPrefixing: false,
    files: ["config.hcl"],
    warnings: [],
  };

  it("reads what the HCL converter produces (blocks as arrays)", () => {
    const body = {
      api_addr: "https://10.0.0.5:8200",
      ha_storage: { dynamodb: [{ table: "locks" }] },
      listener: {
        tcp: [
          {
            address: "0.0.0.0:8200",
            tls_cert_file: "/etc/tls/cert.pem",
            tls_key_file: "/etc/tls/key.pem",
            max_request_size: 1024,
          },
          { address: "[::1]:9200", tls_disable: 1 },
        ],
      },
      log_level: "DEBUG",
      storage: { dynamodb: [{ table: "vault", max_parallel: 128, ha_enabled: true }] },
      ui: true,
    };
    expect(parseServerConfig([{ file: "config.hcl", body }], {}, storageTypes)).toEqual(expected);
  });

  it("reads Vault's JSON shape (blocks as objects, listener as a list)", () => {
    const body = {
      storage: { dynamodb: { table: "vault", max_parallel: 128, ha_enabled: "true" } },
      ha_storage: { dynamodb: { table: "locks" } },
      listener: [
        {
          tcp: {
            address: "0.0.0.0:8200",
            tls_cert_file: "/etc/tls/cert.pem",
            tls_key_file: "/etc/tls/key.pem",
            max_request_size: "1024",
          },
        },
        { tcp: { address: "[::1]:9200", tls_disable: "true" } },
      ],
      api_addr: "https://10.0.0.5:8200/",
      log_level: "debug",
      ui: "1",
    };
    expect(parseServerConfig([{ file: "config.hcl", body }], {}, storageTypes)).toEqual(expected);
  });

  it("converts storage options to strings as Vault does", () => {
    const config = parse({
      storage: { file: [{ path: "/data", n: 3, ratio: 1.5, on: true, off: false, nested: [{ a: 1 }] }] },
    });
    expect(config.storage).toEqual({
      type: "file",
      options: { path: "/data", n: "3", ratio: "1.5", on: "true", off: "false", nested: '[{"a":1}]' },
    });
  });

  it("accepts the older names backend and ha_backend", () => {
    const body = { backend: { s3: { bucket: "b" } }, ha_backend: { dynamodb: {} }, listener: { tcp: plainListener } };
    const config = parseServerConfig([{ file: "config.hcl", body }], {}, storageTypes);
    expect(config.storage).toEqual({ type: "s3", options: { bucket: "b" } });
    expect(config.haStorage).toEqual({ type: "dynamodb", options: {} });
  });

  it("rejects a body that is not an object", () => {
    expect(parseError([{ file: "a.json", body: [1] }])).toBe("a.json: the configuration must be an object, got [1]");
  });

  it("rejects blocks that are not objects", () => {
    expect(errorOf({ listener: "tcp" })).toBe('config.hcl: "listener" must be written as listener "<type>" { ... }, got "tcp"');
    expect(errorOf({ storage: { file: "x" } })).toBe('config.hcl: storage "file" must be a block of settings, got "x"');
  });
});

describe("parseServerConfig: booleans", () => {
  it.each([true, "true", "TRUE", "t", 1, "1"])("reads %j as true", (value) => {
    expect(parse({ ui: value, disable_clustering: value })).toMatchObject({ ui: true, disableClustering: true });
  });

  it.each([false, "false", "False", "f", 0, "0"])("reads %j as false", (value) => {
    expect(parse({ ui: value, disable_clustering: value })).toMatchObject({ ui: false, disableClustering: false });
  });

  it("defaults ui and disable_clustering to false", () => {
    expect(parse({})).toMatchObject({ ui: false, disableClustering: false });
  });

  it.each([
    ["yes", '"yes"'],
    [2, "2"],
    [null, "null"],
  ])("rejects %j", (value, shown) => {
    expect(errorOf({ ui: value })).toBe(`config.hcl: "ui" must be true or false, got ${shown}`);
  });

  it("rejects a bad listener tls_disable", () => {
    expect(listenerError({ tls_disable: "nope" })).toBe('config.hcl: listener "tcp" #1: "tls_disable" must be true or false, got "nope"');
  });
});

describe("parseServerConfig: storage", () => {
  it("requires a storage stanza and lists the known types, sorted", () => {
    expect(parseError([{ file: "a.hcl", body: { listener: { tcp: plainListener } } }])).toBe(
      'a.hcl: a storage "<type>" { ... } stanza is required; known types: dynamodb, file, inmem, s3',
    );
  });

  it("names every file when storage is missing from all of them", () => {
    expect(
      parseError([
        { file: "a.hcl", body: { ui: true } },
        { file: "b.hcl", body: {} },
      ]),
    ).toMatch(/^a\.hcl, b\.hcl: a storage "<type>"/);
  });

  it("takes the known types from the caller, not a fixed list", () => {
    const message = (() => {
      try {
        parseServerConfig([{ file: "a.hcl", body: { storage: { file: {} } } }], {}, { zeta: { ha: false }, alpha: { ha: true } });
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toBe('a.hcl: storage "file": unknown storage type; known types: alpha, zeta');
  });

  it("rejects an unknown type", () => {
    expect(errorOf({ storage: { consul: [{}] } })).toBe('config.hcl: storage "consul": unknown storage type; known types: dynamodb, file, inmem, s3');
  });

  it("rejects two storage blocks in one file", () => {
    expect(errorOf({ storage: { inmem: [{}], file: [{}] } })).toBe(
      'config.hcl: "storage" must hold exactly one storage "<type>" { ... } stanza, found 2 ("inmem", "file")',
    );
    expect(errorOf({ storage: {} })).toBe('config.hcl: "storage" must hold exactly one storage "<type>" { ... } stanza, found 0');
  });

  it("rejects storage defined in two files, naming both", () => {
    const sources = [
      { file: "a.hcl", body: { storage: { inmem: {} }, listener: { tcp: plainListener } } },
      { file: "b.hcl", body: { storage: { file: { path: "/x" } } } },
    ];
    expect(parseError(sources)).toBe('b.hcl: "storage" is already defined in a.hcl; define it only once');
  });

  it("rejects ha_storage defined in two files, naming both", () => {
    const sources = [
      { file: "a.hcl", body: { storage: { inmem: {} }, ha_storage: { dynamodb: {} }, listener: { tcp: plainListener } } },
      { file: "b.hcl", body: { ha_storage: { dynamodb: {} } } },
    ];
    expect(parseError(sources)).toBe('b.hcl: "ha_storage" is already defined in a.hcl; define it only once');
  });

  it("rejects ha_storage on a backend without HA", () => {
    expect(errorOf({ ha_storage: { s3: [{}] } })).toBe('config.hcl: ha_storage "s3": the "s3" backend does not support HA; backends that do: dynamodb');
  });

  it("rejects ha_storage of an unknown type", () => {
    expect(errorOf({ ha_storage: { etcd: {} } })).toBe('config.hcl: ha_storage "etcd": unknown storage type; known types: dynamodb, file, inmem, s3');
  });
});

describe("parseServerConfig: listeners", () => {
  it("fills in defaults", () => {
    const config = parse({ listener: { tcp: [{ tls_disable: true }] } });
    expect(config.listeners).toEqual([
      { type: "tcp", address: "127.0.0.1:8200", clusterAddress: "127.0.0.1:8201", tlsDisable: true, maxRequestSize: 33554432 },
    ]);
  });

  it("requires at least one listener", () => {
    expect(parseError([{ file: "a.hcl", body: { storage: { inmem: {} } } }])).toBe('a.hcl: at least one listener "tcp" { ... } stanza is required');
  });

  it("allows only tcp", () => {
    expect(errorOf({ listener: [{ tcp: plainListener }, { unix: { address: "/run/x.sock" } }] })).toBe(
      'config.hcl: listener "unix" #2: unsupported listener type; only "tcp" is supported',
    );
  });

  it("keeps an explicit cluster_address and accepts an empty host", () => {
    const [listener] = parse({ listener: { tcp: { ...plainListener, address: ":8200", cluster_address: "10.0.0.5:9000" } } }).listeners;
    expect(listener).toMatchObject({ address: ":8200", clusterAddress: "10.0.0.5:9000" });
  });

  it("derives the cluster port from an IPv6 address", () => {
    expect(parse({ listener: { tcp: { ...plainListener, address: "[::]:8300" } } }).listeners[0]?.clusterAddress).toBe("[::]:8301");
  });

  it("keeps port 0 (any free port) for both listeners", () => {
    expect(parse({ listener: { tcp: { ...plainListener, address: "127.0.0.1:0" } } }).listeners[0]).toMatchObject({
      address: "127.0.0.1:0",
      clusterAddress: "127.0.0.1:0",
    });
  });

  it("cannot derive a cluster port past 65535", () => {
    expect(listenerError({ ...plainListener, address: "127.0.0.1:65535" })).toBe(
      'config.hcl: listener "tcp" #1: "cluster_address" defaults to the address\'s port + 1, which is past 65535; set it',
    );
  });

  it.each(["127.0.0.1", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1", "[::1]", "[127.0.0.1]:80", "a b:80"])("rejects the address %j", (address) => {
    expect(listenerError({ ...plainListener, address })).toBe(
      'config.hcl: listener "tcp" #1: "address" must be host:port with a port from 0 to 65535 (0 picks a free port), ' +
        `e.g. "127.0.0.1:8200", got ${JSON.stringify(address)}`,
    );
  });

  it("rejects a bare IPv6 address", () => {
    expect(listenerError({ ...plainListener, cluster_address: "::1:8201" })).toBe(
      'config.hcl: listener "tcp" #1: "cluster_address" must put an IPv6 address in brackets, e.g. "[::1]:8200", got "::1:8201"',
    );
  });

  it("rejects an address that is not a string", () => {
    expect(listenerError({ ...plainListener, address: 8200 })).toBe('config.hcl: listener "tcp" #1: "address" must be a string, got 8200');
  });

  it("requires both TLS files unless tls_disable", () => {
    expect(listenerError({})).toBe('config.hcl: listener "tcp" #1: TLS is on, so tls_cert_file and tls_key_file must be set; or set tls_disable = true');
    expect(listenerError({ tls_cert_file: "/c.pem" })).toBe('config.hcl: listener "tcp" #1: TLS is on, so tls_key_file must be set; or set tls_disable = true');
    expect(listenerError({ tls_disable: "false", tls_key_file: "/k.pem" })).toBe(
      'config.hcl: listener "tcp" #1: TLS is on, so tls_cert_file must be set; or set tls_disable = true',
    );
  });

  it("counts listeners per file in messages", () => {
    expect(errorOf({ listener: { tcp: [plainListener, plainListener, { tls_disable: 1, max_request_size: "big" }] } })).toBe(
      'config.hcl: listener "tcp" #3: "max_request_size" must be an integer number of bytes, got "big"',
    );
  });

  it.each([
    [undefined, 33554432],
    [0, 33554432],
    ["0", 33554432],
    [1024, 1024],
    ["2048", 2048],
    [-1, Number.POSITIVE_INFINITY],
    ["-5", Number.POSITIVE_INFINITY],
  ])("reads max_request_size %j as %d", (value, bytes) => {
    const listener = value === undefined ? plainListener : { ...plainListener, max_request_size: value };
    const config = parse({ listener: { tcp: listener } });
    expect(config.listeners[0]?.maxRequestSize).toBe(bytes);
  });

  it.each([
    ["big", '"big"'],
    [1.5, "1.5"],
    ["1.5", '"1.5"'],
    [true, "true"],
  ])("rejects max_request_size %j", (value, shown) => {
    expect(listenerError({ ...plainListener, max_request_size: value })).toBe(
      `config.hcl: listener "tcp" #1: "max_request_size" must be an integer number of bytes, got ${shown}`,
    );
  });
});

describe("parseServerConfig: api_addr", () => {
  it("normalises: no trailing slash, lower-case scheme and host", () => {
    expect(parse({ api_addr: "HTTPS://Vault.Example.COM:8200/" }).apiAddr).toBe("https://vault.example.com:8200");
  });

  it("keeps an IPv6 host in brackets", () => {
    expect(parse({ api_addr: "https://[::1]:8200" }).apiAddr).toBe("https://[::1]:8200");
    expect(parse({ api_addr: "http://[2001:DB8:0:0::1]:8200" }).apiAddr).toBe("http://[2001:db8::1]:8200");
  });

  it("drops a path with a warning", () => {
    const config = parse({ api_addr: "https://10.0.0.5:8200/v1?x=1" });
    expect(config.apiAddr).toBe("https://10.0.0.5:8200");
    expect(config.warnings).toEqual(['config.hcl: "api_addr": only scheme, host and port are used; ignoring the rest of "https://10.0.0.5:8200/v1?x=1"']);
  });

  it("says to add https:// to a bare host:port", () => {
    expect(errorOf({ api_addr: "10.0.0.1:8200" })).toBe(
      'config.hcl: "api_addr" must be a full URL with scheme http or https, got "10.0.0.1:8200"; ' + 'add "https://", e.g. "https://10.0.0.1:8200"',
    );
  });

  it("rejects other schemes", () => {
    expect(errorOf({ api_addr: "tcp://10.0.0.1:8200" })).toBe('config.hcl: "api_addr" must use scheme http or https, got "tcp://10.0.0.1:8200"');
  });

  it("rejects a bare IPv6 host", () => {
    expect(errorOf({ api_addr: "https://::1:8200" })).toBe(
      'config.hcl: "api_addr" has an IPv6 address without brackets, which makes the port ambiguous; ' +
        'write it like "https://[::1]:8200", got "https://::1:8200"',
    );
  });

  it("rejects a URL without a host, or with credentials", () => {
    expect(errorOf({ api_addr: "https://:8200" })).toBe('config.hcl: "api_addr" is not a valid URL: "https://:8200"');
    expect(errorOf({ api_addr: "https://user:secret@host:8200" })).toBe('config.hcl: "api_addr" must not contain a user name or password');
  });

  it("rejects a non-string", () => {
    expect(errorOf({ api_addr: 8200 })).toBe('config.hcl: "api_addr" must be a string, got 8200');
  });

  it("lets VAULT_API_ADDR win, and names it in errors", () => {
    expect(parse({ api_addr: "https://file:8200" }, { VAULT_API_ADDR: "https://env:8200" }).apiAddr).toBe("https://env:8200");
    expect(parse({ api_addr: "https://file:8200" }, { VAULT_API_ADDR: "" }).apiAddr).toBe("https://file:8200");
    expect(errorOf({ api_addr: "https://file:8200" }, { VAULT_API_ADDR: "env:8200" })).toBe(
      'VAULT_API_ADDR must be a full URL with scheme http or https, got "env:8200"; add "https://", e.g. "https://env:8200"',
    );
  });

  it("is derived from the first listener when unset", () => {
    const config = parse({
      listener: [{ tcp: { address: "10.0.0.7:8400", tls_cert_file: "c", tls_key_file: "k" } }, { tcp: { address: "10.0.0.8:8200", tls_disable: true } }],
    });
    expect(config.apiAddr).toBe("https://10.0.0.7:8400");
    expect(config.warnings).toEqual([]);
    expect(parse({}).apiAddr).toBe("http://127.0.0.1:8200");
    expect(parse({ listener: { tcp: { ...plainListener, address: "[fe80::1]:8200" } } }).apiAddr).toBe("http://[fe80::1]:8200");
  });

  it.each(["0.0.0.0:8200", "[::]:8200", ":8200", "[0:0::0]:8200"])("uses 127.0.0.1 with a warning for the unspecified address %j", (address) => {
    const config = parse({ listener: { tcp: { ...plainListener, address } } });
    expect(config.apiAddr).toBe("http://127.0.0.1:8200");
    expect(config.clusterAddr).toBe("https://127.0.0.1:8201");
    expect(config.warnings).toEqual([
      `api_addr is not set and the first listener listens on all interfaces (${address}); ` +
        'using "http://127.0.0.1:8200", which other nodes cannot reach: set api_addr or VAULT_API_ADDR',
    ]);
  });
});

describe("parseServerConfig: cluster_addr", () => {
  it("defaults to https://<api_addr host>:<first listener's cluster port>", () => {
    const config = parse({
      api_addr: "http://node-1.internal:80",
      listener: [{ tcp: { ...plainListener, cluster_address: "0.0.0.0:9401" } }, { tcp: plainListener }],
    });
    expect(config.clusterAddr).toBe("https://node-1.internal:9401");
  });

  it("keeps the api_addr IPv6 host bracketed", () => {
    expect(parse({ api_addr: "https://[2001:db8::5]:8200" }).clusterAddr).toBe("https://[2001:db8::5]:8201");
  });

  it("uses cluster port 0 when the listener asks for any free port", () => {
    expect(parse({ listener: { tcp: { ...plainListener, address: "127.0.0.1:0" } } })).toMatchObject({
      apiAddr: "http://127.0.0.1:0",
      clusterAddr: "https://127.0.0.1:0",
    });
  });

  it("reads it from the file, normalised", () => {
    expect(parse({ cluster_addr: "https://[::1]:8201/" }).clusterAddr).toBe("https://[::1]:8201");
  });

  it("rewrites http:// to https:// with a warning", () => {
    const config = parse({ cluster_addr: "http://10.0.0.5:8201" });
    expect(config.clusterAddr).toBe("https://10.0.0.5:8201");
    expect(config.warnings).toEqual([
      'config.hcl: "cluster_addr": the cluster port always uses TLS; using "https://10.0.0.5:8201" instead of "http://10.0.0.5:8201"',
    ]);
  });

  it("rejects other schemes, bare host:port and bare IPv6", () => {
    expect(errorOf({ cluster_addr: "tcp://10.0.0.5:8201" })).toBe('config.hcl: "cluster_addr" must use scheme https, got "tcp://10.0.0.5:8201"');
    expect(errorOf({ cluster_addr: "10.0.0.5:8201" })).toBe(
      'config.hcl: "cluster_addr" must be a full URL with scheme https, got "10.0.0.5:8201"; ' + 'add "https://", e.g. "https://10.0.0.5:8201"',
    );
    expect(errorOf({ cluster_addr: "https://fe80::1:8201" })).toMatch(/^config\.hcl: "cluster_addr" has an IPv6 address without brackets/);
  });

  it("lets VAULT_CLUSTER_ADDR win, and names it in errors", () => {
    expect(parse({ cluster_addr: "https://file:8201" }, { VAULT_CLUSTER_ADDR: "https://env:8201" }).clusterAddr).toBe("https://env:8201");
    expect(errorOf({}, { VAULT_CLUSTER_ADDR: "ftp://env:8201" })).toBe('VAULT_CLUSTER_ADDR must use scheme https, got "ftp://env:8201"');
    const config = parse({}, { VAULT_CLUSTER_ADDR: "http://env:8201" });
    expect(config.warnings).toEqual(['VAULT_CLUSTER_ADDR: the cluster port always uses TLS; using "https://env:8201" instead of "http://env:8201"']);
  });

  it("warns when it is the same host and port as api_addr", () => {
    const config = parse({ api_addr: "https://lb.example.com:8200", cluster_addr: "https://lb.example.com:8200" });
    expect(config.warnings).toEqual([
      'cluster_addr "https://lb.example.com:8200" is the same host and port as api_addr; ' +
        "it must be this node's own cluster port (not the API port or a load balancer)",
    ]);
    expect(parse({ api_addr: "https://lb:8200", cluster_addr: "https://lb:8200", disable_clustering: true }).warnings).toEqual([]);
  });
});

describe("parseServerConfig: log_level", () => {
  it.each([
    ["trace", "trace"],
    ["Debug", "debug"],
    ["INFO", "info"],
    ["warn", "warn"],
    ["Warning", "warn"],
    ["error", "error"],
    ["ERR", "error"],
  ])("reads %j as %s", (value, level) => {
    expect(parse({ log_level: value }).logLevel).toBe(level);
  });

  it("defaults to info", () => {
    expect(parse({}).logLevel).toBe("info");
  });

  it("lets VAULT_LOG_LEVEL win, even over an invalid file value", () => {
    expect(parse({ log_level: "verbose" }, { VAULT_LOG_LEVEL: "trace" }).logLevel).toBe("trace");
  });

  it("rejects unknown levels, naming the source", () => {
    expect(errorOf({ log_level: "verbose" })).toBe('config.hcl: "log_level" must be one of trace, debug, info, warn, error; got "verbose"');
    expect(errorOf({}, { VAULT_LOG_LEVEL: "loud" })).toBe('VAULT_LOG_LEVEL must be one of trace, debug, info, warn, error; got "loud"');
    expect(errorOf({ log_level: 3 })).toBe('config.hcl: "log_level" must be a string, got 3');
  });
});

describe("parseServerConfig: standby_reads", () => {
  it("is on unless turned off (standbys are performance standbys, as in Vault Enterprise), and takes Vault's booleans", () => {
    expect(parse({})).toMatchObject({ standbyReads: true });
    expect(parse({ standby_reads: false })).toMatchObject({ standbyReads: false });
    expect(parse({ standby_reads: "false" })).toMatchObject({ standbyReads: false });
    expect(parse({ standby_reads: true })).toMatchObject({ standbyReads: true });
  });

  it("rejects anything else, naming the file and the key", () => {
    expect(errorOf({ standby_reads: "sometimes" })).toMatch(/^config\.hcl: "standby_reads" must be/);
  });

  it("takes Vault's disable_performance_standby as the same switch the other way round, and refuses the two disagreeing", () => {
    expect(parse({ disable_performance_standby: false })).toMatchObject({ standbyReads: true });
    expect(parse({ disable_performance_standby: true })).toMatchObject({ standbyReads: false });
    expect(parse({ disable_performance_standby: true, standby_reads: false })).toMatchObject({ standbyReads: false });
    expect(errorOf({ disable_performance_standby: true, standby_reads: true })).toMatch(
      /^config\.hcl: "disable_performance_standby" = true contradicts "standby_reads" = true/,
    );
    expect(errorOf({ disable_performance_standby: "no" })).toMatch(/^config\.hcl: "disable_performance_standby" must be/);
  });
});

describe("parseServerConfig: allow_audit_log_prefixing", () => {
  it("is off unless set, and takes Vault's booleans", () => {
    expect(parse({})).toMatchObject({ allowAuditLogPrefixing: false });
    expect(parse({ allow_audit_log_prefixing: true })).toMatchObject({ allowAuditLogPrefixing: true });
    expect(parse({ allow_audit_log_prefixing: "false" })).toMatchObject({ allowAuditLogPrefixing: false });
  });

  it("rejects anything else, naming the file and the key", () => {
    expect(errorOf({ allow_audit_log_prefixing: "@cee" })).toBe('config.hcl: "allow_audit_log_prefixing" must be true or false, got "@cee"');
  });
});

describe("parseServerConfig: standby_hold_timeout and shutdown_delay", () => {
  it("default to a 5 s hold and no shutdown delay", () => {
    expect(parse({})).toMatchObject({ standbyHoldMs: 5000, shutdownDelayMs: 0 });
  });

  it("read Go-style durations, bare numbers as seconds, and 0 as off", () => {
    expect(parse({ standby_hold_timeout: "1m30s", shutdown_delay: "250ms" })).toMatchObject({ standbyHoldMs: 90_000, shutdownDelayMs: 250 });
    expect(parse({ standby_hold_timeout: 2, shutdown_delay: "15" })).toMatchObject({ standbyHoldMs: 2000, shutdownDelayMs: 15_000 });
    expect(parse({ standby_hold_timeout: 0 })).toMatchObject({ standbyHoldMs: 0 });
  });

  it("read every unit request fields take (one parser): days, microseconds", () => {
    expect(parse({ standby_hold_timeout: "1d", shutdown_delay: "1500us" })).toMatchObject({ standbyHoldMs: 86_400_000, shutdownDelayMs: 2 });
  });

  it("reject anything else, naming the file, the key and what is allowed", () => {
    for (const [key, value] of [
      ["standby_hold_timeout", "5 seconds"],
      ["shutdown_delay", -1],
      ["shutdown_delay", "-5s"],
      ["shutdown_delay", true],
    ] as const) {
      expect(errorOf({ [key]: value })).toBe(
        `config.hcl: "${key}" must be a duration such as "500ms", "5s" or "1m", or 0 for off; got ${JSON.stringify(value)}`,
      );
    }
  });
});

describe("parseServerConfig: unknown keys", () => {
  it("warns about Vault settings it ignores and about unknown keys", () => {
    const config = parse({
      telemetry: [{ statsd_address: "x" }],
      service_registration: { consul: [{ address: "x" }] },
      pid_file: "/run/vault.pid",
      stroage: {},
      listener: {
        tcp: [{ ...plainListener, adress: "x" }],
      },
    });
    expect(config.warnings).toEqual([
      'config.hcl: listener "tcp" #1: "adress" is not a known listener setting; ignored',
      'config.hcl: "telemetry": "statsd_address" is a Vault telemetry setting Strongbox does not use; ignored',
      'config.hcl: "service_registration" is a Vault setting Strongbox does not use; ignored',
      'config.hcl: "pid_file" is a Vault setting Strongbox does not use; ignored',
      'config.hcl: "stroage" is not a known setting; ignored',
    ]);
  });
});

describe("parseServerConfig: several files", () => {
  it("lets later files win for single values and accumulates listeners", () => {
    const config = parseServerConfig(
      [
        {
          file: "a.hcl",
          body: {
            storage: { inmem: {} },
            listener: { tcp: [{ ...plainListener, address: "10.0.0.5:8200" }] },
            api_addr: "https://a:8200",
            log_level: "debug",
            ui: true,
          },
        },
        {
          file: "b.json",
          body: { listener: [{ tcp: { ...plainListener, address: "10.0.0.5:9200" } }], api_addr: "https://b:8200", ui: false },
        },
      ],
      {},
      storageTypes,
    );
    expect(config).toMatchObject({
      apiAddr: "https://b:8200",
      clusterAddr: "https://b:8201",
      logLevel: "debug",
      ui: false,
      files: ["a.hcl", "b.json"],
    });
    expect(config.listeners.map((listener) => listener.address)).toEqual(["10.0.0.5:8200", "10.0.0.5:9200"]);
  });

  it("names the file a bad listener came from", () => {
    const sources = [
      { file: "a.hcl", body: { storage: { inmem: {} }, listener: { tcp: plainListener } } },
      { file: "b.hcl", body: { listener: { tcp: [{ tls_disable: true, address: "nowhere" }] } } },
    ];
    expect(parseError(sources)).toMatch(/^b\.hcl: listener "tcp" #1: "address" must be host:port/);
  });
});

describe("splitHostPort", () => {
  it("splits names, IPv4 and bracketed IPv6", () => {
    expect(splitHostPort("example.com:443")).toEqual({ host: "example.com", port: 443 });
    expect(splitHostPort("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(splitHostPort(":8200")).toEqual({ host: "", port: 8200 });
    expect(splitHostPort("::1:8200")).toBeUndefined();
    expect(splitHostPort("host")).toBeUndefined();
  });
});

describe("parseServerConfig: storage cache", () => {
  it("reads cache_size (number or digits) and disable_cache; both absent by default", () => {
    expect(parse({})).not.toHaveProperty("cacheSize");
    expect(parse({})).not.toHaveProperty("disableCache");
    expect(parse({ cache_size: 5000 })).toMatchObject({ cacheSize: 5000 });
    expect(parse({ cache_size: "262144", disable_cache: "true" })).toMatchObject({ cacheSize: 262144, disableCache: true });
    expect(parse({ disable_cache: false }).warnings).toEqual([]);
  });

  it.each([
    [0, "0"],
    [-1, "-1"],
    [1.5, "1.5"],
    ["lots", '"lots"'],
    [true, "true"],
  ])("rejects cache_size %j, naming the key and what is allowed", (value, shown) => {
    expect(errorOf({ cache_size: value })).toBe(
      `config.hcl: "cache_size" must be a whole number of entries of at least 1 (default 131072; to turn the cache off use disable_cache = true), got ${shown}`,
    );
  });

  it("rejects a disable_cache that is not a boolean", () => {
    expect(errorOf({ disable_cache: "sometimes" })).toBe('config.hcl: "disable_cache" must be true or false, got "sometimes"');
  });
});
