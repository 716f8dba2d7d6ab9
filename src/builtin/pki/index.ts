/**
 * Vault's `pki` secrets engine: CAs (roots, intermediates, several issuers and keys), roles,
 * issuing and signing certificates, revocation and CRLs, tidy. Built on WebCrypto and
 * @peculiar/x509; everything lives in the mount's storage (store.ts has the layout).
 */
import { secretsEngine } from "../../sdk/framework.js";
import type { EngineContext, LogicalRequest, MountEntry, SecretsEngine } from "../../sdk/types.js";
import type { Endpoint } from "../../sdk/framework.js";
import { caEndpoints } from "./ca.js";
import { crlEndpoints, currentCrl } from "./crl.js";
import { fetchEndpoints } from "./fetch.js";
import { issueCertificate, verbatimRole } from "./issue.js";
import { manageEndpoints } from "./manage.js";
import { ocspEndpoints } from "./ocsp.js";
import { requireRole, roleEndpoints } from "./roles.js";
import { PkiStore } from "./store.js";
import { tidyEndpoints } from "./tidy.js";

export function pkiEngine(_mount: MountEntry, context: EngineContext): SecretsEngine {
  const system = context.leaseTtls;
  const issuing: Endpoint<LogicalRequest>[] = [
    {
      pattern: "issue/:role",
      operations: {
        update: async (request, { role }) => {
          const entry = await requireRole(request.storage, role!);
          return issueCertificate(request, entry, entry.issuer_ref, { useCsr: false, verbatim: false }, system);
        },
      },
    },
    {
      pattern: "sign/:role",
      operations: {
        update: async (request, { role }) => {
          const entry = await requireRole(request.storage, role!);
          return issueCertificate(request, entry, entry.issuer_ref, { useCsr: true, verbatim: false }, system);
        },
      },
    },
    {
      pattern: "issuer/:ref/issue/:role",
      operations: {
        update: async (request, { ref, role }) =>
          issueCertificate(request, await requireRole(request.storage, role!), ref!, { useCsr: false, verbatim: false }, system),
      },
    },
    {
      pattern: "issuer/:ref/sign/:role",
      operations: {
        update: async (request, { ref, role }) =>
          issueCertificate(request, await requireRole(request.storage, role!), ref!, { useCsr: true, verbatim: false }, system),
      },
    },
    {
      pattern: "sign-verbatim/:role?",
      operations: {
        update: async (request, { role }) => issueCertificate(request, await verbatimRole(request, role), "default", { useCsr: true, verbatim: true }, system),
      },
    },
    {
      pattern: "issuer/:ref/sign-verbatim/:role?",
      operations: {
        update: async (request, { ref, role }) => issueCertificate(request, await verbatimRole(request, role), ref!, { useCsr: true, verbatim: true }, system),
      },
    },
  ];
  return secretsEngine({
    endpoints: [
      ...fetchEndpoints,
      ...caEndpoints(system),
      ...manageEndpoints,
      ...roleEndpoints,
      ...issuing,
      ...crlEndpoints,
      ...ocspEndpoints,
      ...tidyEndpoints(),
    ],
    // As Vault's periodic CRL rebuild: with auto_rebuild, a CRL nobody fetches is still renewed before it expires.
    periodic: async (storage, mount, now) => {
      const store = new PkiStore(storage);
      if (!(await store.crlConfig()).auto_rebuild) return;
      for (const issuer of await store.issuers()) await currentCrl(store, issuer.id, mount.uuid, now.getTime());
    },
  });
}
