/**
 * Who is calling the token endpoint (RFC 6749 §2.3.1): `client_secret_basic` (HTTP Basic,
 * client id and secret form-urlencoded, then base64), `client_secret_post` (the
 * `client_id` and `client_secret` form parameters), or `private_key_jwt` (RFC 7523 §2.2:
 * `client_assertion_type` and a signed `client_assertion`, whose `iss`/`sub` name the
 * client; verified by the ServiceClients object). Exactly one method per request (§2.3).
 * Pure: reads the Authorization header and the form, touches nothing.
 *
 * Every failure is `client_invalid` (401 with a Basic challenge, §5.2) or, for a request
 * that uses two methods at once, `request_invalid`; the reason goes to the log only.
 */
import { GatewayError } from "../errors/gateway-error";
import { CLIENT_ASSERTION_TYPE, claimedClient } from "../machines/client-assertion";

export type PresentedClient =
  | {
      readonly method: "client_secret_basic" | "client_secret_post";
      readonly clientId: string;
      readonly secret: string;
    }
  | { readonly method: "private_key_jwt"; readonly clientId: string; readonly assertion: string };

const twoMethods = () =>
  new GatewayError("request_invalid", { detail: "client authenticated in more than one way (RFC 6749 §2.3)" });

/** RFC 7523 §2.2: the assertion names the client (unverified here: only to find its key). */
function fromAssertion(authorization: string | null, fields: Readonly<Record<string, string>>): PresentedClient {
  if ((authorization !== null && authorization !== "") || fields.client_secret !== undefined) throw twoMethods();
  const assertion = fields.client_assertion;
  if (fields.client_assertion_type !== CLIENT_ASSERTION_TYPE || assertion === undefined || assertion === "") {
    throw refused("client_assertion_type is not jwt-bearer, or no client_assertion");
  }
  const clientId = claimedClient(assertion);
  if (clientId === undefined) throw refused("client_assertion: not a JWT whose iss and sub name the client");
  if (fields.client_id !== undefined && fields.client_id !== clientId) {
    throw refused("client_id differs from the assertion's iss");
  }
  return { method: "private_key_jwt", clientId, assertion };
}

/** The longest client id or secret read at all. */
const MAX_CREDENTIAL_LENGTH = 512;
const BASIC = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ ]|$)/;

function refused(detail: string): GatewayError {
  return new GatewayError("client_invalid", { detail, basicChallenge: true });
}

/** application/x-www-form-urlencoded decoding of one Basic half (RFC 6749 §2.3.1, Appendix B). */
function formDecoded(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    throw refused("Basic credentials: bad percent-encoding");
  }
}

function fromBasic(header: string): Extract<PresentedClient, { method: "client_secret_basic" | "client_secret_post" }> {
  const encoded = BASIC.exec(header)?.[1];
  if (encoded === undefined) throw refused("Authorization: not Basic, or not base64");
  let text: string;
  try {
    const binary = atob(encoded);
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      Uint8Array.from(binary, (char) => char.charCodeAt(0)),
    );
  } catch {
    throw refused("Basic credentials: not base64 of UTF-8");
  }
  const colon = text.indexOf(":");
  if (colon <= 0) throw refused("Basic credentials: no client id");
  return {
    method: "client_secret_basic",
    clientId: formDecoded(text.slice(0, colon)),
    secret: formDecoded(text.slice(colon + 1)),
  };
}

/**
 * The client's credentials from the request: `authorization` is the Authorization header
 * (null when absent), `fields` the form body's parameters.
 */
export function presentedClient(
  authorization: string | null,
  fields: Readonly<Record<string, string>>,
): PresentedClient {
  const inBody = fields.client_secret !== undefined;
  if (fields.client_assertion !== undefined || fields.client_assertion_type !== undefined) {
    return fromAssertion(authorization, fields);
  }
  let client: { method: "client_secret_basic" | "client_secret_post"; clientId: string; secret: string };
  if (authorization !== null && authorization !== "") {
    const scheme = SCHEME.exec(authorization)?.[1]?.toLowerCase();
    if (scheme !== "basic") throw refused(`Authorization scheme ${scheme ?? "(unreadable)"} at the token endpoint`);
    if (inBody) throw twoMethods();
    client = fromBasic(authorization);
    // A client_id parameter beside Basic may only repeat it.
    if (fields.client_id !== undefined && fields.client_id !== client.clientId) {
      throw new GatewayError("request_invalid", { detail: "client_id differs from the Basic credentials" });
    }
  } else {
    if (fields.client_id === undefined || fields.client_id === "" || !inBody) throw refused("no client credentials");
    client = { method: "client_secret_post", clientId: fields.client_id, secret: fields.client_secret ?? "" };
  }
  if (client.clientId.length > MAX_CREDENTIAL_LENGTH || client.secret.length > MAX_CREDENTIAL_LENGTH) {
    throw refused("client id or secret too long");
  }
  return client;
}
