import { request as httpRequest } from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

export interface RawResponse {
  status: number;
  body: any;
}

export interface RawRequestOptions {
  port: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Bytes written on the TCP connection before anything else (a PROXY protocol header). */
  preamble?: Buffer | string;
  /** TLS options (certificates, versions); plain HTTP without them. */
  tls?: ConnectionOptions;
}

/**
 * One HTTP/1.1 request on a connection of its own, optionally after a PROXY protocol header and
 * inside TLS: the parts a load balancer or a client-certificate holder would send.
 */
export async function rawRequest(options: RawRequestOptions): Promise<RawResponse> {
  const tcp = await new Promise<Socket>((resolve, reject) => {
    const socket = netConnect({ host: "127.0.0.1", port: options.port }, () => resolve(socket));
    socket.once("error", reject);
  });
  if (options.preamble !== undefined) tcp.write(options.preamble);
  const socket = options.tls
    ? await new Promise<Socket>((resolve, reject) => {
        const secure = tlsConnect({ ...options.tls, socket: tcp }, () => resolve(secure));
        secure.once("error", reject);
      })
    : tcp;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        createConnection: () => socket,
        method: options.method ?? "GET",
        path: options.path,
        headers: { ...options.headers, ...(payload !== undefined && { "content-type": "application/json" }) },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : null }));
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}
