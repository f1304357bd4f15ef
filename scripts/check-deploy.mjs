#!/usr/bin/env node
// Refuses a production deploy whose wrangler.toml [env.production] is not ready:
// settings left empty, the placeholder KV id, or development-only values. Secrets are
// checked by the Worker itself at start (it answers 503 and logs the setting's name).
// wrangler warns that the dev-only UPSTREAM service binding is not in [env.production]:
// that is by design, so keep its warnings out of this check's output.
process.env.WRANGLER_LOG ??= "error";
const { unstable_readConfig } = await import("wrangler");

const config = unstable_readConfig({ config: "wrangler.toml", env: "production" });
const vars = config.vars ?? {};
const problems = [];

if (vars.PORTCULLIS_ENV !== "production") problems.push('PORTCULLIS_ENV must be "production"');
for (const name of ["UPSTREAM_URL", "TOKEN_ISSUER", "TOKEN_AUDIENCE"]) {
  if (typeof vars[name] !== "string" || vars[name].trim() === "") problems.push(`${name} is empty`);
}
if (typeof vars.UPSTREAM_URL === "string" && /localhost|127\.0\.0\.1|\[::1\]/.test(vars.UPSTREAM_URL)) {
  problems.push("UPSTREAM_URL points at this machine");
}
for (const name of [
  "SIGNING_KEYS",
  "SIGNING_KEYS_PREVIOUS",
  "ACCESS_SECRET",
  "CREDENTIAL_CHECK_SECRET",
  "OPERATOR_TOKEN",
  "OPERATOR_TOKEN_PREVIOUS",
  "REVOKE_CLIENT_SECRET",
]) {
  if (name in vars) problems.push(`${name} is a secret: remove it from [vars] and use \`wrangler secret put ${name}\``);
}
if (JSON.stringify(vars).includes("do-not-deploy"))
  problems.push("a development-only value is in [env.production.vars]");
const kv = (config.kv_namespaces ?? []).find((namespace) => namespace.binding === "REVOKED");
if (!kv?.id || kv.id.startsWith("REPLACE_")) {
  problems.push("the REVOKED KV namespace id is not set (wrangler kv namespace create REVOKED)");
}
if ((config.services ?? []).some((service) => service.service === "portcullis-demo-upstream")) {
  problems.push("the demo upstream is bound as UPSTREAM");
}

if (problems.length > 0) {
  console.error("Refusing to deploy: wrangler.toml [env.production] is not ready.");
  for (const problem of problems) console.error(`  - ${problem}`);
  process.exit(1);
}
console.log("wrangler.toml [env.production] looks ready; deploying.");
