/**
 * docs/openapi.yaml as a checker of real answers. `loadContract()` parses the document,
 * validates it as OpenAPI 3.1 (@seriousme/openapi-schema-validator, the official schemas)
 * and compiles every schema in it with Ajv's JSON Schema 2020-12 draft, strictly. Then
 * `contract.check(method, path, answer)` asserts that the document lists the answer's
 * status for that operation (a method the path does not take: its `x-other-methods`), that
 * the content type is one it lists (none when it lists no content), that every required
 * header is there and every documented header matches its schema, and that a JSON body
 * matches the schema; a problem+json body's `status` must be the answer's.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { expect } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./build-worker";

export const OPENAPI_PATH = path.join(ROOT, "docs/openapi.yaml");

/** What a check needs of an answer, from fetch or from node:http. */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** An answer read through node:http (oidc-gateway.ts `rawRequest`, for browser navigations). */
export function answerOfRaw(raw: {
  status: number;
  headers: import("node:http").IncomingHttpHeaders;
  body: string;
}): Answer {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw.headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
  }
  return { status: raw.status, headers, body: raw.body };
}

type Node = Record<string, unknown>;
const SCHEMAS_ID = "urn:portcullis:openapi:schemas";

/** The document's `#/components/schemas/…` references, pointed at the schemas registered with Ajv. */
function pointedAtAjv(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${SCHEMAS_ID}#/$defs/`));
}

export interface Contract {
  /** Every operation of the document, as "METHOD /path/template". */
  readonly operations: readonly string[];
  /** The statuses the document lists for an operation ("METHOD /path/template"). */
  listed(operation: string): string[];
  /** The statuses checked so far, per operation. */
  readonly seen: ReadonlyMap<string, ReadonlySet<number>>;
  check(method: string, template: string, answer: Answer): void;
}

export async function loadContract(): Promise<Contract> {
  const document = parse(readFileSync(OPENAPI_PATH, "utf8")) as Node;
  const validator = new Validator();
  const validity = await validator.validate(document);
  expect(validity.errors, "docs/openapi.yaml is not a valid OpenAPI document").toBeUndefined();
  expect(validity.valid).toBe(true);
  expect(validator.version).toBe("3.1");

  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats(ajv);
  const components = document.components as { schemas: Node };
  ajv.addSchema({ $id: SCHEMAS_ID, $defs: pointedAtAjv(components.schemas) as Node });
  // Every schema compiles strictly (unknown keywords, bad types and formats are errors).
  for (const name of Object.keys(components.schemas)) ajv.getSchema(`${SCHEMAS_ID}#/$defs/${name}`);

  const compiled = new Map<unknown, ValidateFunction>();
  const validate = (schema: unknown, value: unknown, what: string) => {
    let check = compiled.get(schema);
    if (check === undefined) {
      check = ajv.compile(pointedAtAjv(schema) as Node);
      compiled.set(schema, check);
    }
    expect(check(value) ? [] : check.errors, what).toEqual([]);
  };
  /** A node, or what its `$ref` (to a component other than a schema) points at. */
  const resolve = (node: unknown): Node => {
    let current = node as Node;
    while (typeof current.$ref === "string") {
      current = (current.$ref as string)
        .slice(2)
        .split("/")
        .reduce<Node>((parent, key) => parent[key] as Node, document);
    }
    return current;
  };

  const paths = document.paths as Record<string, Node>;
  const operations = Object.entries(paths).flatMap(([template, item]) =>
    ["get", "post", "delete"].filter((method) => method in item).map((method) => `${method.toUpperCase()} ${template}`),
  );
  const seen = new Map<string, Set<number>>();

  const check = (method: string, template: string, answer: Answer) => {
    const item = paths[template];
    if (item === undefined) throw new Error(`docs/openapi.yaml has no path ${template}`);
    const operation = item[method.toLowerCase()] as Node | undefined;
    const responses = (operation?.responses ?? item["x-other-methods"] ?? {}) as Node;
    const what = `${method} ${template} → ${answer.status}`;
    expect(Object.keys(responses), `${what}: a status the document does not list`).toContain(String(answer.status));
    const response = resolve(responses[String(answer.status)]);

    for (const [name, header] of Object.entries((response.headers ?? {}) as Node).map(
      ([key, value]) => [key, resolve(value)] as const,
    )) {
      const values = name.toLowerCase() === "set-cookie" ? answer.headers.getSetCookie() : [answer.headers.get(name)];
      const present = values.filter((value): value is string => value !== null);
      if (header.required === true) expect(present, `${what}: header ${name}`).not.toEqual([]);
      const schema = header.schema as Node | undefined;
      if (schema === undefined) continue;
      for (const value of present) {
        validate(schema, schema.type === "integer" ? Number(value) : value, `${what}: header ${name}`);
      }
    }

    const type = answer.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    const content = response.content as Record<string, Node> | undefined;
    if (content === undefined) {
      expect({ type, body: answer.body }, `${what}: no content`).toEqual({ type: undefined, body: "" });
    } else {
      expect(Object.keys(content), `${what}: content type`).toContain(type);
      const media = content[type as string] as Node;
      if (type?.endsWith("json")) {
        const body = JSON.parse(answer.body) as Node;
        validate(media.schema, body, `${what}: body ${answer.body.slice(0, 300)}`);
        if (type === "application/problem+json") expect(body.status, `${what}: problem status`).toBe(answer.status);
      }
    }
    const key = `${operation === undefined ? "OTHER" : method.toUpperCase()} ${template}`;
    seen.set(key, (seen.get(key) ?? new Set()).add(answer.status));
  };

  const listed = (operation: string) => {
    const [method = "", template = ""] = operation.split(" ");
    return Object.keys((paths[template]?.[method.toLowerCase()] as Node | undefined)?.responses ?? {});
  };
  return { operations, listed, seen, check };
}
