import { CompactSign, jwtVerify, SignJWT } from "jose";
import { filterUpstreamAnswer } from "../../src/proxy/upstream-answer";
import { headerKey, isDroppedRequestHeader } from "../../src/proxy/upstream-request";
import floor from "../floor-worker.js";

/**
 * One Worker, several ways of forwarding a request (env.VARIANT), each a piece of what
 * the gateway does on top of a bare pass-through. `npm run bench:variants` runs each in a
 * workerd of its own and compares their CPU per request with the bare one.
 */
const HOP_BY_HOP = ["keep-alive", "proxy-connection", "transfer-encoding", "trailer"];

/** Whether a request header goes upstream (the gateway's filter, in short). */
function forwarded(name) {
  return !isDroppedRequestHeader(headerKey(name));
}

/** The forwarding and identity headers every record variant adds. */
function withGatewayHeaders(headers, url) {
  headers["x-forwarded-proto"] = url.protocol.slice(0, -1);
  headers["x-forwarded-host"] = url.host;
  headers["x-auth-subject"] = "user-7";
  headers["x-auth-session"] = "AAAAAAAAAAAAAAAAAAAAAA";
  return headers;
}

/** The gateway's way: one pass over the incoming headers into a record, plus forwarding and identity headers. */
function headerRecord(request, url) {
  const headers = Object.create(null);
  for (const [name, value] of request.headers) {
    if (forwarded(name)) headers[name] = value;
  }
  return withGatewayHeaders(headers, url);
}

/** The same headers as edits of a copy the runtime makes natively. */
function editedCopy(request, url) {
  const headers = new Headers(request.headers);
  for (const name of [...request.headers.keys()]) {
    if (!forwarded(name)) headers.delete(name);
  }
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  headers.set("x-forwarded-host", url.host);
  headers.set("x-auth-subject", "user-7");
  headers.set("x-auth-session", "AAAAAAAAAAAAAAAAAAAAAA");
  return headers;
}

/**
 * The incoming headers read once (as the gateway must, to learn what is there), then the
 * request sent as a native copy of itself with the gateway's headers set on the copy.
 */
function editedRequest(request, target, url) {
  headerRecord(request, url);
  const forwarded = new Request(target, request);
  const headers = forwarded.headers;
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  headers.set("x-forwarded-host", url.host);
  headers.set("x-auth-subject", "user-7");
  headers.set("x-auth-session", "AAAAAAAAAAAAAAAAAAAAAA");
  return forwarded;
}

async function withDeadline(pending) {
  let expire;
  const deadline = new Promise((resolve) => {
    expire = resolve;
  });
  const timer = setTimeout(expire, 30_000, "timeout");
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The deadline's timer is left to the runtime, which drops a request's timers when it completes. */
async function withUnclearedDeadline(pending) {
  let expire;
  const deadline = new Promise((resolve) => {
    expire = resolve;
  });
  setTimeout(expire, 30_000, "timeout");
  return Promise.race([pending, deadline]);
}

const REQUEST_ID = "0123456789abcdef01234567000000000001";

/** The answer as the gateway made it before the canonical request: the Connection-named headers, Proxy-Connection, the id. */
function answerBefore(response) {
  const answer = new Response(response.body, response);
  const headers = answer.headers;
  const connection = headers.get("connection");
  if (connection !== null) for (const name of connection.split(",")) headers.delete(name.trim());
  headers.delete("proxy-connection");
  headers.set("x-request-id", REQUEST_ID);
  return answer;
}

/** The answer as the gateway makes it now: asking by name for what the upstream may not send (src/proxy/upstream-answer.ts). */
function answerFiltered(response) {
  const answer = new Response(response.body, response);
  filterUpstreamAnswer(answer.headers);
  answer.headers.set("x-request-id", REQUEST_ID);
  return answer;
}

/** The alternative it was measured against: one pass over every header of the answer, each name read as a key. */
function answerByPass(response) {
  const answer = new Response(response.body, response);
  const headers = answer.headers;
  let dropped;
  for (const [name] of headers) {
    const key = headerKey(name);
    if (key === "authorization" || key === "proxy-connection" || key.startsWith("portcullis-")) {
      dropped ??= [];
      dropped.push(name);
    }
  }
  if (dropped !== undefined) for (const name of dropped) headers.delete(name);
  if (headers.has("set-cookie")) headers.getSetCookie();
  headers.set("x-request-id", REQUEST_ID);
  return answer;
}

function rewrapped(response) {
  const answer = new Response(response.body, response);
  for (const name of HOP_BY_HOP) answer.headers.delete(name);
  answer.headers.set("x-request-id", REQUEST_ID);
  return answer;
}

/** Keys for the signature variants, made on first use (no randomness at global scope). */
let keysMade;
function signatureKeys() {
  keysMade ??= (async () => {
    const ed = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const data = new TextEncoder().encode("eyJhbGciOiJFZERTQSJ9.".padEnd(400, "a"));
    const signature = await crypto.subtle.sign("Ed25519", ed.privateKey, data);
    return { ed, data, signature, token: await joseSign(ed.privateKey, Math.floor(Date.now() / 1000)) };
  })();
  return keysMade;
}

/** An access token as a refresh mints one (issue-access-token.ts), through jose. */
function joseSign(privateKey, iat) {
  return new SignJWT({ sid: "AAAAAAAAAAAAAAAAAAAAAA", auth_time: iat, client_id: "api", scope: "read write" })
    .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: "k1" })
    .setIssuer("https://auth.example.com")
    .setAudience("api")
    .setSubject("user-7")
    .setIssuedAt(iat)
    .setExpirationTime(iat + 900)
    .setJti(crypto.randomUUID())
    .sign(privateKey);
}

const ENCODER = new TextEncoder();

/** The same token as joseSign, its claims set built by hand and signed with CompactSign (as the gateway mints). */
function joseCompactSign(privateKey, iat) {
  const claims = {
    iss: "https://auth.example.com",
    sub: "user-7",
    aud: "api",
    exp: iat + 900,
    iat,
    jti: crypto.randomUUID(),
    sid: "AAAAAAAAAAAAAAAAAAAAAA",
    auth_time: iat,
    client_id: "api",
    scope: "read write",
  };
  return new CompactSign(ENCODER.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid: "k1" })
    .sign(privateKey);
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = `${env.UPSTREAM_URL}${url.pathname}${url.search}`;
    const init = (headers) => ({ method: request.method, headers, body: null, redirect: "manual" });
    switch (env.VARIANT) {
      case "bare":
        return fetch(target, request);
      case "rewrap":
        return rewrapped(await fetch(target, request));
      case "answer-before":
        return answerBefore(await fetch(target, request));
      case "answer-filter":
        return answerFiltered(await fetch(target, request));
      case "answer-pass":
        return answerByPass(await fetch(target, request));
      case "rewrap-only": {
        const response = await fetch(target, request);
        return new Response(response.body, response);
      }
      case "probe": {
        // Asking whether hop-by-hop headers are there, without re-wrapping.
        const response = await fetch(target, request);
        const headers = response.headers;
        if (headers.has("connection")) return rewrapped(response);
        for (const name of HOP_BY_HOP) if (headers.has(name)) return rewrapped(response);
        return response;
      }
      case "timer":
        return withDeadline(fetch(target, request));
      case "timer-unclear":
        return withUnclearedDeadline(fetch(target, request));
      case "signal-timeout":
        // The platform's own timer; but the signal governs the body too.
        return fetch(target, { method: request.method, headers: request.headers, signal: AbortSignal.timeout(30_000) });
      case "record":
        return fetch(target, init(headerRecord(request, url)));
      case "request-edit":
        return fetch(editedRequest(request, target, url));
      case "ed25519-sign": {
        // One Ed25519 signature, as a refresh mints an access token.
        const { ed, data } = await signatureKeys();
        await crypto.subtle.sign("Ed25519", ed.privateKey, data);
        return fetch(target, request);
      }
      case "ed25519-verify": {
        // One Ed25519 verification, as a refresh checks the expired token.
        const { ed, data, signature } = await signatureKeys();
        await crypto.subtle.verify("Ed25519", ed.publicKey, signature, data);
        return fetch(target, request);
      }
      case "jose-sign": {
        // The whole mint through jose's SignJWT (claims, header, encoding and the signature).
        const { ed } = await signatureKeys();
        await joseSign(ed.privateKey, Math.floor(Date.now() / 1000));
        return fetch(target, request);
      }
      case "jose-compact-sign": {
        // The mint as the gateway makes it: its own claims set, through jose's CompactSign.
        const { ed } = await signatureKeys();
        await joseCompactSign(ed.privateKey, Math.floor(Date.now() / 1000));
        return fetch(target, request);
      }
      case "jose-verify": {
        // The whole verification through jose's jwtVerify, with the gateway's options.
        const { ed, token } = await signatureKeys();
        await jwtVerify(token, ed.publicKey, {
          algorithms: ["EdDSA"],
          issuer: "https://auth.example.com",
          audience: "api",
          typ: "at+jwt",
          requiredClaims: ["sub", "exp", "iat", "jti", "sid"],
        });
        return fetch(target, request);
      }
      case "log-line":
        // One structured log line, as a refresh writes "session_rotated".
        console.log(
          JSON.stringify({
            level: "info",
            event: "session_rotated",
            time: new Date().toISOString(),
            requestId: crypto.randomUUID(),
            sid: "AAAAAAAAAAAAAAAAAAAAAA",
          }),
        );
        return fetch(target, request);
      case "copy":
        return fetch(target, init(editedCopy(request, url)));
      case "all":
        // The forwarding every gateway answer needs: the bench's floor row (floor-worker.js).
        return floor.fetch(request, env);
      default:
        return new Response("unknown variant", { status: 500 });
    }
  },
};
