/** Shared by the PKI tests: a server with `pki/` mounted, and openssl run on files in a scratch folder. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type InProcessServer, unsealedServer } from "../../helpers/in-process-server.js";

export async function pkiServer(path = "pki"): Promise<InProcessServer> {
  const server = await unsealedServer();
  const mounted = await server.call("POST", `sys/mounts/${path}`, { type: "pki" }, server.root);
  if (mounted.status !== 204) throw new Error(`mounting pki: ${JSON.stringify(mounted)}`);
  return server;
}

/** A scratch folder for files handed to openssl; `done()` removes it. */
export function scratch() {
  const dir = mkdtempSync(join(tmpdir(), "strongbox-pki-"));
  return {
    dir,
    write(name: string, content: string | Uint8Array): string {
      const file = join(dir, name);
      writeFileSync(file, content);
      return file;
    },
    /** openssl's stdout, or its stderr in the thrown error. */
    openssl(...args: string[]): string {
      return execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A CSR and its key made by openssl (not by the code under test). */
export function opensslCsr(files: ReturnType<typeof scratch>, name: string, subject: string, sans?: string): string {
  const args = ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject];
  if (sans) args.push("-addext", `subjectAltName=${sans}`);
  files.openssl(...args);
  return readFileSync(join(files.dir, `${name}.csr`), "utf8");
}
