#!/usr/bin/env node
import { parseArgs } from "node:util";
// Makes a signing key for Portcullis and prints how to install it as a Worker secret.
//
//   npm run keygen                 # Ed25519 (EdDSA), the default (npx portcullis-keygen from the package)
//   npm run keygen -- --alg ES256  # or RS256
//   npm run keygen -- --add '<current SIGNING_KEYS JSON>'   # rotation: keep the old keys
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";

const { values } = parseArgs({
  options: { alg: { type: "string", default: "EdDSA" }, add: { type: "string" } },
});
const alg = values.alg;
if (!["EdDSA", "ES256", "RS256"].includes(alg)) {
  console.error(`--alg must be EdDSA, ES256 or RS256 (got ${alg})`);
  process.exit(2);
}

const { privateKey } = await generateKeyPair(alg, {
  extractable: true,
  ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  ...(alg === "RS256" ? { modulusLength: 3072 } : {}),
});
const jwk = await exportJWK(privateKey);
const kid = `${new Date().toISOString().slice(0, 10)}-${(await calculateJwkThumbprint(jwk)).slice(0, 8)}`;
const key = { ...jwk, kid, alg, use: "sig" };

let keys = [key];
if (values.add) {
  const current = JSON.parse(values.add);
  keys = [...(Array.isArray(current) ? current : current.keys), key];
}

process.stderr.write(`New ${alg} signing key, kid "${kid}".

Install it (the JSON below is a secret: paste it at the prompt, do not commit it):
  npx wrangler secret put SIGNING_KEYS --env production
and make it the active key in wrangler.toml [env.production.vars]:
  ACTIVE_SIGNING_KID = "${kid}"
To rotate later, run \`npm run keygen -- --add '<current SIGNING_KEYS>'\`, install the
result, and switch ACTIVE_SIGNING_KID once every verifier has fetched the new JWKS.
For local development put it in .dev.vars as SIGNING_KEYS='<json>'.

`);
process.stdout.write(`${JSON.stringify(keys)}\n`);
