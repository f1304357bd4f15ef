/**
 * The bare pass-through plus the gateway's own DPoP proof check (src/dpop/dpop-proof.ts,
 * bundled in by bundle-scripts.ts) of each request's proof: the check on its own, beside
 * the one ECDSA P-256 verification inside it (p256-worker.js) and the whole DPoP request
 * through the gateway (docs/benchmarks.md, "DPoP").
 */
import { verifyProof } from "../src/dpop/dpop-proof";
import { claimJti } from "../src/dpop/replay-cache";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const token = (request.headers.get("authorization") ?? "").replace(/^DPoP /, "");
    try {
      await verifyProof(request.headers.get("dpop") ?? "", {
        method: request.method,
        uri: `${url.protocol}//${url.host}${url.pathname}`,
        accessToken: token,
        now: Date.now(),
        maxAgeSeconds: 60,
        clockToleranceSeconds: 5,
        claimJti,
      });
    } catch {
      return new Response(null, { status: 401 });
    }
    return fetch(`${env.UPSTREAM_URL}${url.pathname}${url.search}`, request);
  },
};
