/**
 * Reading the small bodies of the auth endpoints: size-capped, content-type checked,
 * parsed strictly. Everything that is wrong becomes a 4xx GatewayError, never a throw
 * that could surface as a 500.
 */
import { GatewayError } from "../errors/gateway-error";

/** Auth endpoint bodies are tiny; anything larger is refused. */
export const MAX_AUTH_BODY_BYTES = 8 * 1024;

/**
 * A body's bytes, at most `maxBytes`: past them the rest is not read (the stream is
 * cancelled) and undefined is returned. For requests here, and for the answers of the
 * services the gateway asks (a decision service, GitHub's API).
 */
export async function readCappedBytes(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

export async function readLimitedText(request: Request, maxBytes = MAX_AUTH_BODY_BYTES): Promise<string> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw new GatewayError("payload_too_large");
  const bytes = await readCappedBytes(request.body, maxBytes);
  if (bytes === undefined) throw new GatewayError("payload_too_large");
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new GatewayError("request_invalid", { detail: "body is not UTF-8" });
  }
}

export type BodyKind = "json" | "form" | "empty";

export function bodyKind(request: Request): BodyKind | undefined {
  const type = request.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
  if (type === undefined || type === "") return "empty";
  if (type === "application/json") return "json";
  if (type === "application/x-www-form-urlencoded") return "form";
  return undefined;
}

/**
 * Parse a JSON object or a form body into string fields. Repeated form parameters are
 * refused (RFC 6749 §3.1); non-string JSON values are refused.
 */
export async function readFields(request: Request, allowed: ReadonlyArray<BodyKind>): Promise<Record<string, string>> {
  const kind = bodyKind(request);
  if (kind === undefined || !allowed.includes(kind)) throw new GatewayError("unsupported_media_type");
  const text = await readLimitedText(request);
  if (kind === "empty" || text === "") {
    if (text !== "" && kind === "empty") throw new GatewayError("unsupported_media_type");
    return {};
  }
  const fields: Record<string, string> = Object.create(null);
  if (kind === "form") {
    for (const [name, value] of new URLSearchParams(text)) {
      if (name in fields) throw new GatewayError("request_invalid", { detail: `parameter "${name}" repeated` });
      fields[name] = value;
    }
    return fields;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError("request_invalid", { detail: "body is not valid JSON" });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError("request_invalid", { detail: "body must be a JSON object" });
  }
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== "string")
      throw new GatewayError("request_invalid", { detail: `field "${name}" must be a string` });
    fields[name] = value;
  }
  return fields;
}

/** Bodies up to this size are read and discarded when the gateway answers without them. */
export const MAX_DISCARDED_BODY_BYTES = 64 * 1024;

/**
 * Read and drop a request body nobody consumed (a refusal answered early), so the
 * client's connection stays usable: workerd resets a keep-alive connection whose request
 * body was left unread, and the client's next request on it fails. Larger bodies are
 * cancelled; that connection is given up.
 */
export async function discardUnreadBody(request: Request): Promise<void> {
  if (request.body === null || request.bodyUsed) return;
  try {
    await readLimitedText(request, MAX_DISCARDED_BODY_BYTES);
  } catch {
    // too large (cancelled), not text, or the client went away: nothing more to do
  }
}
