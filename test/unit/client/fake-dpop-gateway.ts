/**
 * A stand-in for a DPoP-enabled gateway (the wire contract of issue 25), as a `fetch`
 * function: proofs are verified with jose (`EmbeddedJWK`, typ dpop+jwt, ES256), and
 * `htm`, `htu`, `ath`, the thumbprint and, when `requireNonce` is on, the nonce are checked
 * as the real gateway checks them. Login and refresh with a proof issue a token bound to
 * the proof's key (`cnf.jkt`, `token_type: "DPoP"`); a bound session refreshes only with
 * a proof by the same key. Every call is recorded with its decoded proof.
 */
import {
  base64url,
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
} from "jose";

export const GATEWAY = "https://app.example";

export interface SeenProof {
  readonly payload: JWTPayload & { htm?: string; htu?: string; ath?: string; nonce?: string };
  /** Of the proof's `jwk`. */
  readonly thumbprint: string;
  /** Why the gateway refused it; undefined when it passed. */
  readonly refusal: string | undefined;
}

export interface SeenDpopCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  /** The proof as sent; undefined when none was. */
  readonly proof: SeenProof | undefined;
}

interface Issued {
  readonly sid: string;
  readonly jkt: string | undefined;
  readonly expiresAt: number;
}

const TTL_SECONDS = 60;

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

async function sha256(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

function problem(status: number, error: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error }, { status, headers });
}

export class FakeDpopGateway {
  /** Proofs must carry `nonce`; a proof without it gets `use_dpop_nonce`. */
  requireNonce = false;
  nonce = "nonce-1";
  /** Answer an expired token with a new one in `Authorization` (backend-managed refresh). */
  transparentRefresh = false;
  readonly calls: SeenDpopCall[] = [];
  readonly #tokens = new Map<string, Issued>();
  /** The session in the cookie jar, and the key it is bound to. */
  #session: { sid: string; jkt: string | undefined } | undefined;
  #serial = 0;

  readonly fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const authorization = request.headers.get("authorization");
    const token = authorization?.replace(/^(Bearer|DPoP) /, "");
    const proofHeader = request.headers.get("dpop");
    const proof = proofHeader === null ? undefined : await this.#check(proofHeader, request.method, url, token);
    const refusal = proof?.refusal;
    this.calls.push({ method: request.method, path: url.pathname, authorization, proof });
    const nonceHeader: Record<string, string> =
      proofHeader !== null && this.requireNonce ? { "dpop-nonce": this.nonce } : {};
    const tokenEndpoint = url.pathname.startsWith("/auth/");
    if (refusal === "use_dpop_nonce") {
      return tokenEndpoint
        ? problem(400, "use_dpop_nonce", nonceHeader)
        : problem(401, "use_dpop_nonce", { ...nonceHeader, "www-authenticate": 'DPoP error="use_dpop_nonce"' });
    }
    if (refusal !== undefined) {
      return tokenEndpoint
        ? problem(400, "invalid_dpop_proof")
        : problem(401, "invalid_dpop_proof", { "www-authenticate": 'DPoP error="invalid_dpop_proof"' });
    }
    if (url.pathname === "/auth/login") return this.#login(proof, nonceHeader);
    if (url.pathname === "/auth/refresh") return this.#refresh(proof, nonceHeader);
    if (url.pathname === "/auth/logout") {
      this.#session = undefined;
      return new Response(null, { status: 204, headers: nonceHeader });
    }
    return this.#api(authorization, token, proof, nonceHeader);
  };

  /** Unsigned, but shaped like the gateway's tokens: `sid`, `iat`, `exp`, and `cnf.jkt` when bound. */
  mint(sid: string, jkt: string | undefined, ageSeconds = 0): string {
    this.#serial += 1;
    const iat = Math.floor(Date.now() / 1000) - ageSeconds;
    const claims = { sid, iat, exp: iat + TTL_SECONDS, n: this.#serial, ...(jkt ? { cnf: { jkt } } : {}) };
    const token = `${encodeJson({ alg: "EdDSA" })}.${encodeJson(claims)}.sig`;
    this.#tokens.set(token, { sid, jkt, expiresAt: (iat + TTL_SECONDS) * 1000 });
    return token;
  }

  /** Make every token issued so far expired. */
  expireTokens(): void {
    for (const [token, issued] of this.#tokens) this.#tokens.set(token, { ...issued, expiresAt: 0 });
  }

  callsTo(path: string): SeenDpopCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  async #check(proof: string, method: string, url: URL, token: string | undefined): Promise<SeenProof> {
    const thumbprint = await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, "sha256");
    const payload = decodeJwt(proof) as SeenProof["payload"];
    try {
      await this.#verify(proof, method, url, token);
      return { payload, thumbprint, refusal: undefined };
    } catch (error) {
      return { payload, thumbprint, refusal: error instanceof Error ? error.message : String(error) };
    }
  }

  async #verify(proof: string, method: string, url: URL, token: string | undefined): Promise<void> {
    const { payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: "dpop+jwt",
      algorithms: ["ES256"],
    });
    const claims = payload as SeenProof["payload"];
    if (claims.htm !== method) throw new Error(`htm ${claims.htm} is not ${method}`);
    if (claims.htu !== `${url.origin}${url.pathname}`) throw new Error(`htu ${claims.htu} is not this request's`);
    if (typeof claims.jti !== "string" || typeof claims.iat !== "number") throw new Error("jti or iat missing");
    if (Math.abs(claims.iat - Date.now() / 1000) > 60) throw new Error("iat out of the window");
    if (token !== undefined && claims.ath !== (await sha256(token))) throw new Error("ath is not the token's hash");
    if (token === undefined && claims.ath !== undefined) throw new Error("ath without a token");
    if (this.requireNonce && claims.nonce !== this.nonce) throw new Error("use_dpop_nonce");
  }

  #tokenResponse(sid: string, jkt: string | undefined, headers: Record<string, string>): Response {
    return Response.json(
      { access_token: this.mint(sid, jkt), token_type: jkt ? "DPoP" : "Bearer", expires_in: TTL_SECONDS },
      { headers },
    );
  }

  #login(proof: SeenProof | undefined, headers: Record<string, string>): Response {
    this.#session = { sid: `sid-${this.#serial + 1}`, jkt: proof?.thumbprint };
    return this.#tokenResponse(this.#session.sid, this.#session.jkt, headers);
  }

  #refresh(proof: SeenProof | undefined, headers: Record<string, string>): Response {
    const session = this.#session;
    if (session === undefined) return problem(401, "invalid_grant", headers);
    if (session.jkt !== undefined && proof?.thumbprint !== session.jkt) {
      this.#session = undefined; // a stolen cookie: the session ends
      return problem(401, "invalid_grant", headers);
    }
    session.jkt ??= proof?.thumbprint;
    return this.#tokenResponse(session.sid, session.jkt, headers);
  }

  #api(
    authorization: string | null,
    token: string | undefined,
    proof: SeenProof | undefined,
    headers: Record<string, string>,
  ): Response {
    const issued = token === undefined ? undefined : this.#tokens.get(token);
    const invalid = problem(401, "invalid_token", { ...headers, "www-authenticate": 'DPoP error="invalid_token"' });
    if (issued === undefined) return invalid;
    const scheme = authorization?.startsWith("DPoP ") ? "DPoP" : "Bearer";
    if ((issued.jkt === undefined) !== (scheme === "Bearer")) return invalid;
    if (issued.jkt !== undefined && proof?.thumbprint !== issued.jkt) return invalid;
    if (Date.now() < issued.expiresAt) return Response.json({ ok: true }, { headers });
    if (!this.transparentRefresh || this.#session?.sid !== issued.sid) return invalid;
    const fresh = this.mint(issued.sid, issued.jkt);
    return Response.json({ ok: true }, { headers: { ...headers, authorization: `${scheme} ${fresh}` } });
  }
}
