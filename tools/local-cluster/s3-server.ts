/**
 * A small S3 (path-style REST, no signature checks): HeadBucket, CreateBucket, Put/Get/Head/
 * DeleteObject and ListObjectsV2 with prefix, delimiter, max-keys, start-after and continuation
 * tokens, keys ordered by UTF-8 bytes as S3 orders them. The tests use it in memory; the local
 * cluster gives it a folder so its data survives restarts.
 *
 * s3rver was tried first and cannot stand in for S3 here: it stores each key as a file path, so
 * "a/../b" lands on "b" and 255-byte segments crash it; its delimiter listing drops "b/" when the
 * only key under it is "b/x/y"; a put racing a delete in one folder crashes it (ENOENT); and
 * listing 1100 keys answered InternalError.
 *
 * On disk (with `dataDir`): one folder per bucket (0700), one file per object (0600) named by the
 * SHA-256 of its key, so any key is a safe file name; the file is a JSON header line (key, ETag,
 * time, encryption headers) and then the body. Writes go to a temp file renamed into place, and
 * writes to one key are queued so the file ends up as the last acknowledged write left it.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomically } from "../../adapters/node/stores/atomic-file.js";

export interface S3ServerOptions {
  /** A bucket to create at start (default "strongbox-test"). */
  bucket?: string;
  /** Keep objects in this folder (created if missing) and load them at start; in memory without. */
  dataDir?: string;
  /** Loopback port to listen on (default: one the OS picks). */
  port?: number;
}

export interface RunningS3Server {
  /** e.g. "http://127.0.0.1:41235"; use path-style addressing (s3_force_path_style). */
  endpoint: string;
  /** A bucket that exists. */
  bucket: string;
  /** Any credentials will do; these are as good as any. */
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

interface StoredObject {
  body: Buffer;
  etag: string;
  modified: Date;
  /** x-amz-server-side-encryption* headers, echoed back as S3 does. */
  encryption: Record<string, string>;
}

/** The JSON line that starts an object's file. */
interface ObjectHeader {
  key: string;
  etag: string;
  modified: string;
  encryption: Record<string, string>;
}

/** Starts the S3 stand-in on loopback with `bucket` created. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<RunningS3Server> {
  const bucket = options.bucket ?? "strongbox-test";
  const store = options.dataDir ? await FolderStore.open(options.dataDir) : new MemoryStore();
  await store.createBucket(bucket);
  const server = createServer((request, response) => {
    collect(request)
      .then((body) => handle(store, request, body, response))
      .catch((error: unknown) => sendError(response, 500, "InternalError", String(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKey: "test",
    secretKey: "test",
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Buckets of objects in memory; `put` and `delete` resolve once the change is durable. */
class MemoryStore {
  readonly buckets = new Map<string, Map<string, StoredObject>>();

  async createBucket(name: string): Promise<void> {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  async put(bucket: string, key: string, object: StoredObject): Promise<void> {
    this.buckets.get(bucket)!.set(key, object);
  }

  async delete(bucket: string, key: string): Promise<void> {
    this.buckets.get(bucket)!.delete(key);
  }
}

/** A MemoryStore that writes every change through to a folder and loads it at start. */
class FolderStore extends MemoryStore {
  readonly #pending = new Map<string, Promise<void>>();

  private constructor(private readonly root: string) {
    super();
  }

  static async open(root: string): Promise<FolderStore> {
    const store = new FolderStore(root);
    await mkdir(root, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (entry.isDirectory()) await store.#loadBucket(decodeURIComponent(entry.name));
    }
    return store;
  }

  override async createBucket(name: string): Promise<void> {
    await mkdir(this.#bucketDir(name), { recursive: true, mode: 0o700 });
    await super.createBucket(name);
  }

  override put(bucket: string, key: string, object: StoredObject): Promise<void> {
    return this.#queue(bucket, key, async () => {
      const header: ObjectHeader = { key, etag: object.etag, modified: object.modified.toISOString(), encryption: object.encryption };
      await writeFileAtomically(
        this.#objectFile(bucket, key),
        Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), object.body]),
        join(this.#bucketDir(bucket), `~${randomUUID()}`),
      );
      await super.put(bucket, key, object);
    });
  }

  override delete(bucket: string, key: string): Promise<void> {
    return this.#queue(bucket, key, async () => {
      await unlink(this.#objectFile(bucket, key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
      await super.delete(bucket, key);
    });
  }

  async #loadBucket(name: string): Promise<void> {
    const dir = this.#bucketDir(name);
    const objects = new Map<string, StoredObject>();
    for (const file of await readdir(dir)) {
      // A temp file is a write that never acknowledged: drop it.
      if (file.startsWith("~")) {
        await unlink(join(dir, file));
        continue;
      }
      const bytes = await readFile(join(dir, file));
      const newline = bytes.indexOf(0x0a);
      const header = JSON.parse(bytes.subarray(0, newline).toString()) as ObjectHeader;
      objects.set(header.key, {
        body: bytes.subarray(newline + 1),
        etag: header.etag,
        modified: new Date(header.modified),
        encryption: header.encryption,
      });
    }
    this.buckets.set(name, objects);
  }

  /** Runs `change` after every earlier change to the same object has finished. */
  #queue(bucket: string, key: string, change: () => Promise<void>): Promise<void> {
    const id = `${bucket}/${key}`;
    const run = (this.#pending.get(id) ?? Promise.resolve()).then(change);
    const settled = run.catch(() => {}); // a failed write was answered with an error; the next goes on
    this.#pending.set(id, settled);
    void settled.then(() => {
      if (this.#pending.get(id) === settled) this.#pending.delete(id);
    });
    return run;
  }

  #bucketDir(bucket: string): string {
    // encodeURIComponent leaves "." alone; "." and ".." must not become folder names.
    return join(this.root, encodeURIComponent(bucket).replaceAll(".", "%2E"));
  }

  #objectFile(bucket: string, key: string): string {
    return join(this.#bucketDir(bucket), createHash("sha256").update(key).digest("hex"));
  }
}

function collect(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

async function handle(store: MemoryStore, request: IncomingMessage, body: Buffer, response: ServerResponse): Promise<void> {
  const url = new URL(request.url!, "http://s3");
  // The raw path: URL parsing would resolve "." and ".." segments, which are part of S3 keys.
  const rawPath = request.url!.split("?")[0]!.slice(1);
  const slash = rawPath.indexOf("/");
  const bucketName = decodeURIComponent(slash === -1 ? rawPath : rawPath.slice(0, slash));
  const key = slash === -1 ? "" : decodeURIComponent(rawPath.slice(slash + 1));
  const method = request.method!;

  if (key === "" && method === "PUT") {
    await store.createBucket(bucketName);
    return void response.writeHead(200).end();
  }
  const objects = store.buckets.get(bucketName);
  if (!objects) return sendError(response, 404, "NoSuchBucket", `The specified bucket does not exist: ${bucketName}`);
  if (key === "" && method === "HEAD") return void response.writeHead(200).end();
  if (key === "" && method === "GET" && url.searchParams.get("list-type") === "2") {
    return listObjects(bucketName, objects, url.searchParams, response);
  }
  if (key === "") return sendError(response, 400, "NotImplemented", `${method} on a bucket`);

  if (method === "PUT") {
    if (request.headers["content-encoding"]?.includes("aws-chunked")) {
      return sendError(response, 400, "NotImplemented", "aws-chunked uploads");
    }
    const encryption = Object.fromEntries(Object.entries(request.headers).filter(([name]) => name.startsWith("x-amz-server-side-encryption"))) as Record<
      string,
      string
    >;
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    await store.put(bucketName, key, { body, etag, modified: new Date(), encryption });
    return void response.writeHead(200, { ETag: etag }).end();
  }
  if (method === "DELETE") {
    await store.delete(bucketName, key);
    return void response.writeHead(204).end();
  }
  if (method === "GET" || method === "HEAD") {
    const object = objects.get(key);
    if (!object) {
      if (method === "HEAD") return void response.writeHead(404).end();
      return sendError(response, 404, "NoSuchKey", "The specified key does not exist.");
    }
    response.writeHead(200, {
      "Content-Length": object.body.length,
      "Content-Type": "application/octet-stream",
      ETag: object.etag,
      "Last-Modified": object.modified.toUTCString(),
      ...object.encryption,
    });
    return void response.end(method === "GET" ? object.body : undefined);
  }
  sendError(response, 405, "MethodNotAllowed", method);
}
function listObjects(bucket: string, objects: Map<string, StoredObject>, query: URLSearchParams, response: ServerResponse): void {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeys = Math.min(Number(query.get("max-keys") ?? 1000), 1000);
  const token = query.get("continuation-token");
  const after = token ? Buffer.from(token, "base64url").toString() : (query.get("start-after") ?? "");
  const urlEncoded = query.get("encoding-type") === "url";
  const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareUtf8);

  const contents: string[] = [];
  const commonPrefixes: string[] = [];
  let last = "";
  let truncated = false;
  for (const key of keys) {
    // Resume after `after`: a common prefix stands for every key under it.
    if (after && (compareUtf8(key, after) <= 0 || (after.endsWith(delimiter || "\u0000") && key.startsWith(after)))) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry = cut === -1 ? key : key.slice(0, cut + delimiter.length);
    if (entry === last) continue;
    if (contents.length + commonPrefixes.length === maxKeys) {
      truncated = true;
      break;
    }
    (cut === -1 ? contents : commonPrefixes).push(entry);
    last = entry;
  }

  const text = (value: string) => escapeXml(urlEncoded ? encodeURIComponent(value).replaceAll("%2F", "/") : value);
  const xml = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${escapeXml(bucket)}</Name><Prefix>${text(prefix)}</Prefix>`,
    delimiter ? `<Delimiter>${text(delimiter)}</Delimiter>` : "",
    urlEncoded ? "<EncodingType>url</EncodingType>" : "",
    `<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + commonPrefixes.length}</KeyCount>`,
    `<IsTruncated>${truncated}</IsTruncated>`,
    truncated ? `<NextContinuationToken>${Buffer.from(last).toString("base64url")}</NextContinuationToken>` : "",
    ...contents.map((key) => {
      const object = objects.get(key)!;
      return `<Contents><Key>${text(key)}</Key><LastModified>${object.modified.toISOString()}</LastModified><ETag>${escapeXml(object.etag)}</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    }),
    ...commonPrefixes.map((p) => `<CommonPrefixes><Prefix>${text(p)}</Prefix></CommonPrefixes>`),
    "</ListBucketResult>",
  ].join("");
  response.writeHead(200, { "Content-Type": "application/xml" }).end(xml);
}

function sendError(response: ServerResponse, status: number, code: string, message: string): void {
  if (response.headersSent) return void response.destroy();
  response
    .writeHead(status, { "Content-Type": "application/xml" })
    .end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`);
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
