/**
 * A JWT issuer for auth tests: fresh signing keys, tokens signed with real `jose`, and a small HTTP
 * (or HTTPS) server publishing the keys as a JWKS and an OIDC discovery document, counting fetches.
 * `extraRoutes` lets a test answer other paths (a Kubernetes TokenReview).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import "reflect-metadata";
import { X509CertificateGenerator } from "@peculiar/x509";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";

export interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export async function signingKey(alg: string, kid = `${alg.toLowerCase()}-${Math.random().toString(36).slice(2, 10)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey };
}

export function publicPem(key: SigningKey): Promise<string> {
  return exportSPKI(key.publicKey);
}

/** A self-signed certificate for an RS256 or ES256 key (clients such as hvac take pem_keys as certificates only). */
export async function certificatePem(key: SigningKey): Promise<string> {
  const algorithm = key.alg === "RS256" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", hash: "SHA-256" };
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=service account signer",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: algorithm,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
  });
  return certificate.toString("pem");
}

/** A signed token; `header` overrides the protected header (a missing kid, a forged alg). */
export function sign(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }).sign(key.privateKey);
}

export type Route = (request: IncomingMessage, body: string) => { status: number; body: unknown } | null;

export interface KeyServer {
  url: string;
  /** The keys the JWKS publishes; a test replaces them to rotate. */
  keys: SigningKey[];
  /** GETs of the JWKS so far. */
  jwksFetches: number;
  close(): Promise<void>;
}

/** Serves `/.well-known/jwks.json` and `/.well-known/openid-configuration` (issuer = the server's URL). */
export async function startKeyServer(keys: SigningKey[], options: { tls?: { cert: string; key: string }; extraRoutes?: Route } = {}): Promise<KeyServer> {
  const state: KeyServer = { url: "", keys, jwksFetches: 0, close: async () => {} };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", async () => {
      const reply = (status: number, body: unknown) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
      };
      const extra = options.extraRoutes?.(request, Buffer.concat(chunks).toString("utf8"));
      if (extra) return reply(extra.status, extra.body);
      if (request.url === "/.well-known/jwks.json") {
        state.jwksFetches++;
        const jwks = await Promise.all(state.keys.map(async (key) => ({ ...(await exportJWK(key.publicKey)), kid: key.kid, use: "sig", alg: key.alg })));
        return reply(200, { keys: jwks });
      }
      if (request.url === "/.well-known/openid-configuration") {
        return reply(200, {
          issuer: state.url,
          jwks_uri: `${state.url}/.well-known/jwks.json`,
          authorization_endpoint: `${state.url}/authorize`,
          token_endpoint: `${state.url}/token`,
          id_token_signing_alg_values_supported: ["RS256"],
        });
      }
      reply(404, { error: "not found" });
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  return state;
}
