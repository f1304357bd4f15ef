/**
 * The bare pass-through plus one ECDSA P-256 signature verification per request: what the
 * DPoP row's added CPU is compared with (docs/benchmarks.md, "DPoP"). The key and the
 * signature are made on the first request (no randomness at a Worker's global scope).
 */
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const MESSAGE = new TextEncoder().encode("a DPoP proof's signing input, about this long: header.claims");
let made;

async function make() {
  const pair = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  const signature = await crypto.subtle.sign(ALGORITHM, pair.privateKey, MESSAGE);
  return { key: pair.publicKey, signature };
}

export default {
  async fetch(request, env) {
    made ??= make();
    const { key, signature } = await made;
    if (!(await crypto.subtle.verify(ALGORITHM, key, signature, MESSAGE))) return new Response(null, { status: 500 });
    const url = new URL(request.url);
    return fetch(`${env.UPSTREAM_URL}${url.pathname}${url.search}`, request);
  },
};
