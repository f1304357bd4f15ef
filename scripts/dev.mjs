// `npm run dev`: builds the demo page, starts the demo identity provider
// (examples/demo-idp) on 127.0.0.1 and then `wrangler dev` with the gateway and the demo
// upstream, pointed at that IdP. The two processes live and die together: Ctrl-C (or a
// SIGTERM to this script) stops both, and when either exits the other is stopped too, so a
// newcomer is never left with a gateway whose IdP is gone or an IdP holding its port.
//
//   node scripts/dev.mjs [--idp-port 8790] [any wrangler dev option, e.g. --port 8787]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "..");
const STOP_GRACE_MS = 5_000;
const IDP_START_TIMEOUT_MS = 20_000;

const { values, tokens } = parseArgs({
  options: { "idp-port": { type: "string" }, port: { type: "string" } },
  strict: false,
  tokens: true,
});
const idpPort = Number(values["idp-port"] ?? process.env.DEMO_IDP_PORT ?? 8790);
const gatewayPort = Number(values.port ?? 8787);
// Everything but --idp-port goes to wrangler as given.
const wranglerArgs = [];
for (const token of tokens) {
  if (token.kind === "option" && token.name === "idp-port") continue;
  if (token.kind === "option") wranglerArgs.push(token.rawName, ...(token.value === undefined ? [] : [token.value]));
  else if (token.kind === "positional") wranglerArgs.push(token.value);
}

const { buildDemo } = await import(path.join(ROOT, "examples/demo-upstream/build.mjs"));
await buildDemo();

const children = new Set();
let stopping = false;

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  for (const child of children) child.kill("SIGTERM");
  setTimeout(() => {
    for (const child of children) child.kill("SIGKILL");
  }, STOP_GRACE_MS).unref();
}

function start(name, args) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: "inherit" });
  children.add(child);
  child.on("error", (error) => {
    console.error(`[dev] ${name} could not start: ${error.message}`);
    stopAll(1);
  });
  child.on("exit", (code, signal) => {
    children.delete(child);
    if (!stopping) console.error(`[dev] ${name} exited (${signal ?? code}); stopping the rest`);
    stopAll(code ?? 1);
  });
  return child;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stopAll(0));

const issuer = `http://127.0.0.1:${idpPort}`;
start("demo IdP", [
  path.join(ROOT, "examples/demo-idp/server.ts"),
  "--port",
  String(idpPort),
  "--gateway-port",
  String(gatewayPort),
]);

// wrangler starts only once the IdP answers discovery, so the first login cannot race it.
const deadline = Date.now() + IDP_START_TIMEOUT_MS;
while (!stopping) {
  try {
    const response = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    if (response.ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() > deadline) {
    console.error(`[dev] the demo IdP did not answer at ${issuer} in time`);
    stopAll(1);
    break;
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}

if (!stopping) {
  const wrangler = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
  start("wrangler dev", [
    wrangler,
    "dev",
    "-c",
    "wrangler.toml",
    "-c",
    "examples/demo-upstream/wrangler.toml",
    "--var",
    `OIDC_ISSUER:${issuer}`,
    "--var",
    `OIDC_POST_LOGOUT_REDIRECT_URI:http://localhost:${gatewayPort}/demo/`,
    ...wranglerArgs,
  ]);
}
