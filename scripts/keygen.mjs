#!/usr/bin/env node
import { parseArgs } from "node:util";
// Makes a signing key for Portcullis: the new SIGNING_KEYS on stdout (a secret: pipe it into
// `wrangler secret put`), how to install or rotate it on stderr.
//
//   npm run -s keygen                 # Ed25519 (EdDSA), the default (npx portcullis-keygen from the package)
//   npm run -s keygen -- --alg ES256  # or RS256
//
// Rotating needs no current private key (docs/operations.md, "Rotating the signing key"):
// the retired key's public half goes into SIGNING_KEYS_PREVIOUS from /.well-known/jwks.json,
// and this key alone into SIGNING_KEYS. `--add '<SIGNING_KEYS JSON>'` still appends to keys
// you hold yourself.
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

const env = "--env production";
process.stderr.write(`New ${alg} signing key, kid "${kid}" (the JSON on stdout is a secret: pipe it, never commit it).

Install it, the first time or as step 2 of a rotation:
  npm run -s keygen | npx wrangler secret put SIGNING_KEYS ${env}

Rotating (docs/operations.md, "Rotating the signing key"); no current private key is needed:
  1. curl -s https://<gateway>/.well-known/jwks.json | npx wrangler secret put SIGNING_KEYS_PREVIOUS ${env}
  2. npm run -s keygen | npx wrangler secret put SIGNING_KEYS ${env}
  3. after ACCESS_TOKEN_TTL + CLOCK_TOLERANCE_SECONDS: npx wrangler secret delete SIGNING_KEYS_PREVIOUS ${env}
Leave ACTIVE_SIGNING_KID unset: the first key of SIGNING_KEYS signs.
For local development put it in .dev.vars as SIGNING_KEYS='<json>'.

`);
process.stdout.write(`${JSON.stringify(keys)}\n`);
