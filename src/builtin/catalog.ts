/**
 * Every secrets engine and auth method Strongbox provides, by the `type` that `sys/mounts` and
 * `sys/auth` enable: adding one is its folder under `builtin/` plus one line here.
 */
import type { AuthMethod } from "../sdk/auth.js";
import type { SecretsEngineFactory } from "../sdk/types.js";
import { approle } from "./approle/approle.js";
import { jwt } from "./jwt/jwt.js";
import { aws } from "./aws/aws.js";
import { cert } from "./cert/cert.js";
import { kvEngine } from "./kv/index.js";
import { kubernetes } from "./kubernetes/kubernetes.js";
import { transitEngine } from "./transit/index.js";
import { pkiEngine } from "./pki/index.js";
import { userpass } from "./userpass/userpass.js";

export const SECRETS_ENGINES: Record<string, SecretsEngineFactory> = {
  kv: kvEngine,
  transit: transitEngine,
  pki: pkiEngine,
};

export const AUTH_METHODS: Record<string, AuthMethod> = {
  userpass,
  approle,
  jwt,
  oidc: jwt,
  kubernetes,
  aws,
  cert,
};
