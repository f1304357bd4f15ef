/** The Markdown tables `npm run bench:cost` prints and docs/cost.md quotes. */
import type { BindingCounts } from "./binding-counts";
import { type Assumptions, type DailyCost, dailyCost, type MeasuredOps } from "./cost-model";

interface ReportRow {
  readonly id: string;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number | undefined;
  readonly errors: number;
  readonly totals: BindingCounts;
  readonly perRequest: BindingCounts;
}

export interface CostReport {
  readonly startedAt: string;
  readonly options: { durationSeconds: number; connections: number; revocationCacheSeconds: number };
  readonly assumptions: Assumptions;
  readonly variants: ReadonlyArray<{
    readonly name: string;
    readonly commit: string;
    readonly rows: readonly ReportRow[];
    readonly ops: MeasuredOps;
    readonly daily: DailyCost;
    readonly freePlan: { users: number; first: string };
  }>;
}

const fixed = (value: number, digits = 3) => (value === 0 ? "0" : value.toFixed(digits));
const money = (value: number) => `$${value < 10 ? value.toFixed(2) : Math.round(value).toLocaleString("en-US")}`;
const count = (value: number) => Math.round(value).toLocaleString("en-US");
const kvOps = (ops: BindingCounts) => ops.kvReads + ops.kvWrites + ops.kvDeletes + ops.kvLists;

export function formatCostReport(report: CostReport): string {
  const variants = report.variants;
  type Variant = (typeof variants)[number];
  const row = (variant: Variant, id: string) => variant.rows.find((item) => item.id === id) as ReportRow;
  const header = (first: string) => [
    `| ${first} | ${variants.map((variant) => `${variant.name} (${variant.commit})`).join(" | ")} |`,
    `| --- | ${variants.map(() => "---:").join(" | ")} |`,
  ];
  const line = (label: string, cell: (variant: Variant) => string) =>
    `| ${label} | ${variants.map(cell).join(" | ")} |`;
  const lines: string[] = [
    `Binding operations per request, counted in workerd (${report.options.durationSeconds} s per load row, ${report.options.connections} connections, REVOCATION_CACHE_SECONDS ${report.options.revocationCacheSeconds}; started ${report.startedAt}).`,
    "",
    "| row | code | requests | req/s | KV reads | KV writes | DO requests | DO storage writes |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const id of [
    "valid-256",
    "valid-10k",
    "valid-revoking",
    "login",
    "refresh",
    "refresh-expiry",
    "logout",
    "logout-quiet",
  ]) {
    for (const variant of variants) {
      const item = row(variant, id);
      const per = item.perRequest;
      const rps = item.requestsPerSecond === undefined ? "—" : item.requestsPerSecond.toFixed(0);
      lines.push(
        `| ${id} | ${variant.name} | ${item.requests} | ${rps} | ${fixed(per.kvReads)} | ${fixed(per.kvWrites)} | ${fixed(per.doRequests)} | ${fixed(per.doStorageWrites)} |`,
      );
    }
  }
  const reads10k = (variant: Variant) => row(variant, "valid-10k").totals.kvReads;
  const periods = (variant: Variant) => row(variant, "valid-10k").seconds / report.options.revocationCacheSeconds;
  const rps = (variant: Variant, id: string) => (row(variant, id).requestsPerSecond ?? 0).toFixed(0);
  const doOps = (id: string) => (v: Variant) => {
    const per = row(v, id).perRequest;
    return `${fixed(per.doRequests, 2)} / ${fixed(per.doStorageWrites, 2)}`;
  };
  lines.push(
    "",
    ...header(""),
    line("KV operations per valid request (256 tokens, warm isolate)", (v) =>
      fixed(kvOps(row(v, "valid-256").perRequest)),
    ),
    line("KV operations per valid request (10,000 distinct tokens)", (v) =>
      fixed(kvOps(row(v, "valid-10k").perRequest)),
    ),
    line("KV reads in the 10,000-token row (one isolate)", (v) => count(reads10k(v))),
    line("… per REVOCATION_CACHE_SECONDS", (v) => fixed(reads10k(v) / periods(v), 1)),
    line("… per REVOCATION_CACHE_SECONDS while logouts flow (valid-revoking)", (v) =>
      fixed(v.ops.revoking.kvReadsPerCachePeriod, 1),
    ),
    line(
      "KV writes per second while logouts flow (valid-revoking)",
      (v) => `${fixed(v.ops.revoking.kvWritesPerSecond, 1)} (${fixed(v.ops.revoking.logoutsPerSecond, 1)} logouts/s)`,
    ),
    line("KV operations per refresh", (v) => fixed(kvOps(row(v, "refresh").perRequest))),
    line("KV operations per logout, one at a time", (v) => fixed(kvOps(row(v, "logout-quiet").perRequest))),
    line("KV operations per logout, 8 at a time", (v) => fixed(kvOps(row(v, "logout").perRequest))),
    line("DO requests / rows written per refresh", doOps("refresh")),
    line("… later, when its ledger record expires", doOps("refresh-expiry")),
    line("DO requests / rows written per logout, one at a time", doOps("logout-quiet")),
    line("DO requests / rows written per logout, 8 at a time", doOps("logout")),
    line("valid-token throughput, 256 tokens (req/s)", (v) => rps(v, "valid-256")),
    line("valid-token throughput, 10,000 tokens (req/s)", (v) => rps(v, "valid-10k")),
    line("transparent-refresh throughput (req/s)", (v) => rps(v, "refresh")),
    line(`modelled cost per day, ${count(report.assumptions.dailyUsers)} daily users`, (v) => money(v.daily.total)),
    line("free plan: daily users before the first ceiling", (v) => `${count(v.freePlan.users)} (${v.freePlan.first})`),
    "",
    `Where the money goes, per day (${count(report.assumptions.dailyUsers)} daily users, assumptions in docs/cost.md):`,
    "",
    ...header("component"),
  );
  const parts: Array<[keyof DailyCost["dollars"], string]> = [
    ["workers", "Workers requests + CPU"],
    ["kvReads", "KV reads"],
    ["kvWrites", "KV writes + deletes"],
    ["doRequests", "Durable Object requests"],
    ["doDuration", "Durable Object duration"],
    ["doStorage", "Durable Object rows written"],
  ];
  for (const [key, label] of parts) lines.push(line(label, (v) => money(v.daily.dollars[key])));
  lines.push(line("**total**", (v) => `**${money(v.daily.total)}**`));
  lines.push(
    "",
    "Change one assumption at a time (cost per day; per million daily users unless the row changes the users):",
    "",
    ...header("assumption changed"),
  );
  const base = report.assumptions;
  const changes: Array<[string, Partial<Assumptions>]> = [
    ["none (the defaults above)", {}],
    ["10,000 daily users", { dailyUsers: 10_000 }],
    ["1,000 requests per user", { requestsPerUser: 1_000 }],
    ["5-minute access tokens", { accessTokenTtl: 300 }],
    ["60-minute access tokens", { accessTokenTtl: 3_600 }],
    ["3,000 busy isolates", { isolates: 3_000 }],
    ["REVOCATION_CACHE_SECONDS 30", { revocationCacheSeconds: 30 }],
    ["1 logout per user a day", { logoutsPerUser: 1 }],
  ];
  for (const [label, change] of changes) {
    lines.push(line(label, (v) => money(dailyCost(v.ops, { ...base, ...change }).total)));
  }
  const perMillionRequests = (v: Variant) => {
    const day = dailyCost(v.ops, { ...base, loginsPerUser: 0, logoutsPerUser: 0, activeHours: 0 });
    return money((day.total / day.events.requests) * 1_000_000);
  };
  lines.push(line("per million valid requests (no refresh, login or logout)", perMillionRequests));
  return lines.join("\n");
}
