/**
 * Checks a JWT from the provider (an ID token or a logout token) with jose: its signature
 * against the provider's JWKS (the shared remote-key cache), the algorithm allow-list
 * (never "none", never a shared-secret HS*), issuer, audience and timestamps.
 */
import { type JWTHeaderParameters, type JWTPayload, type JWTVerifyOptions, jwtVerify } from "jose";
import type { Provider } from "./provider";

const CLOCK_TOLERANCE_SECONDS = 5;

/** Verify a provider-signed JWT; throws (jose's errors, or GatewayError keys_unavailable) when it does not hold. */
export async function verifyProviderJwt(
  provider: Provider,
  token: string,
  options: Pick<JWTVerifyOptions, "requiredClaims" | "maxTokenAge" | "typ"> & { now: number },
): Promise<JWTPayload> {
  const { payload } = await jwtVerify(
    token,
    async (header: JWTHeaderParameters) => {
      const found = await provider.keys?.get(header.kid, header.alg, options.now);
      if (found === undefined || found.alg !== header.alg) throw new Error("no provider key for this token");
      return found.key;
    },
    {
      algorithms: [...provider.algorithms],
      issuer: provider.server.issuer,
      audience: provider.config.clientId,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(options.now),
      requiredClaims: options.requiredClaims,
      maxTokenAge: options.maxTokenAge,
      typ: options.typ,
    },
  );
  return payload;
}
