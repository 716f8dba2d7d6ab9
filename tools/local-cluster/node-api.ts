/** Requests from the launcher to one node's API (never following redirects: we ask that node). */
export interface NodeResponse {
  status: number;
  body: any;
}

export async function callNode(
  apiAddr: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; timeoutMs?: number } = {},
): Promise<NodeResponse> {
  const response = await fetch(`${apiAddr}/v1/${path}`, {
    method,
    redirect: "manual",
    headers: options.token ? { "x-vault-token": options.token } : {},
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { errors: [text] };
  }
  return { status: response.status, body };
}

/** The first error message of a Vault-style error body, for messages to the user. */
export function errorText(response: NodeResponse): string {
  const errors = (response.body as { errors?: unknown[] } | null)?.errors;
  return `HTTP ${response.status}${Array.isArray(errors) && errors.length > 0 ? `: ${errors.join("; ")}` : ""}`;
}
