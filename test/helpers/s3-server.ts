/**
 * A small in-memory S3 (path-style REST, no signature checks) for tests: HeadBucket, CreateBucket,
 * Put/Get/Head/DeleteObject and ListObjectsV2 with prefix, delimiter, max-keys, start-after and
 * continuation tokens, keys ordered by UTF-8 bytes as S3 orders them.
 *
 * s3rver (in devDependencies) was tried first and cannot stand in for S3 here: it stores each
 * key as a file path, so "a/../b" lands on "b" and 255-byte segments crash it; its delimiter
 * listing drops "b/" when the only key under it is "b/x/y"; a put racing a delete in one folder
 * crashes it (ENOENT); and listing 1100 keys answered InternalError.
 */
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import { createHash } from "node:crypto";

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

/** Starts the S3 stand-in on a free loopback port with `bucket` created. */
export async function startS3Server(bucket = "strongbox-test"): Promise<RunningS3Server> {
  const buckets = new Map<string, Map<string, StoredObject>>([[bucket, new Map()]]);
  const server = createServer((request, response) => {
    collect(request)
      .then((body) => handle(buckets, request, body, response))
      .catch((error: unknown) => sendError(response, 500, "InternalError", String(error)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
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

function collect(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function handle(
  buckets: Map<string, Map<string, StoredObject>>,
  request: IncomingMessage,
  body: Buffer,
  response: ServerResponse,
): void {
  const url = new URL(request.url!, "http://s3");
  // The raw path: URL parsing would resolve "." and ".." segments, which are part of S3 keys.
  const rawPath = request.url!.split("?")[0]!.slice(1);
  const slash = rawPath.indexOf("/");
  const bucketName = decodeURIComponent(slash === -1 ? rawPath : rawPath.slice(0, slash));
  const key = slash === -1 ? "" : decodeURIComponent(rawPath.slice(slash + 1));
  const method = request.method!;

  if (key === "" && method === "PUT") {
    if (!buckets.has(bucketName)) buckets.set(bucketName, new Map());
    return void response.writeHead(200).end();
  }
  const objects = buckets.get(bucketName);
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
    const encryption = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => name.startsWith("x-amz-server-side-encryption")),
    ) as Record<string, string>;
    const etag = `"${createHash("md5").update(body).digest("hex")}"`;
    objects.set(key, { body, etag, modified: new Date(), encryption });
    return void response.writeHead(200, { ETag: etag }).end();
  }
  if (method === "DELETE") {
    objects.delete(key);
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
