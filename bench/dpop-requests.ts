/**
 * The DPoP valid-token row's requests: bound tokens (`cnf.jkt`) of one client key each,
 * and a fresh proof for every request, signed by the load driver as the request is sent
 * (autocannon's setupRequest), so no proof is ever presented twice and the gateway does
 * all the work a real client's request costs it: the header (remembered per key after the
 * first), one ECDSA P-256 verification, `ath`, `htu`, `iat` and the replay cache.
 */
import { createHash, createPrivateKey, type KeyObject, randomUUID, sign } from "node:crypto";
import type autocannon from "autocannon";
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import type { Gateway } from "../test/support/gateway";
import { mintToken } from "../test/support/tokens";
import { API_PATH } from "./bench-gateway";

/** Client keys (and so cached proof headers) the row spreads its requests over. */
const CLIENT_KEYS = 16;

interface Client {
  readonly token: string;
  readonly headerSegment: string;
  readonly key: KeyObject;
  readonly ath: string;
}

const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** Bound tokens for `gateway`, one per client key. */
export async function dpopClients(gateway: Gateway): Promise<Client[]> {
  const clients: Client[] = [];
  for (let index = 0; index < CLIENT_KEYS; index++) {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const { kty, crv, x, y } = await exportJWK(pair.publicKey);
    const jwk = { kty, crv, x, y };
    const jkt = await calculateJwkThumbprint(jwk, "sha256");
    const token = await mintToken(gateway.key, {
      claims: { sub: `user-${index}`, sid: randomUUID().replaceAll("-", "").slice(0, 22), cnf: { jkt } },
      ttl: 3600,
    });
    clients.push({
      token,
      headerSegment: b64(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk })),
      key: createPrivateKey({ key: (await exportJWK(pair.privateKey)) as never, format: "jwk" }),
      ath: createHash("sha256").update(token, "ascii").digest("base64url"),
    });
  }
  return clients;
}

/** One request per client; each sent with a proof made for it then. `origin`: the URL the row drives. */
export function dpopRequests(clients: readonly Client[], origin: string): autocannon.Request[] {
  const htu = `${origin}${API_PATH.split("?")[0]}`;
  return clients.map((client) => ({
    method: "GET",
    path: API_PATH,
    setupRequest: (request: autocannon.Request) => {
      const claims = { jti: randomUUID(), htm: "GET", htu, iat: Math.floor(Date.now() / 1000), ath: client.ath };
      const input = `${client.headerSegment}.${b64(JSON.stringify(claims))}`;
      const signature = sign("sha256", Buffer.from(input), { key: client.key, dsaEncoding: "ieee-p1363" });
      return { ...request, headers: { authorization: `DPoP ${client.token}`, dpop: `${input}.${b64(signature)}` } };
    },
  }));
}
