/**
 * The benchmark chart as a self-contained SVG (no external service, no fonts to fetch):
 * requests per second per row, and the CPU time each proxy adds per request.
 */
import type { BenchResult } from "./results";

const WIDTH = 960;
const LABEL_WIDTH = 330;
const BAR_HEIGHT = 20;
const GAP = 8;

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function colourOf(id: string): string {
  if (id.startsWith("gateway")) return "#f38020";
  if (id.startsWith("seed") || id === "express") return "#4f7cac";
  return "#8a8a8a";
}

interface Bar {
  readonly id: string;
  readonly label: string;
  readonly value: number;
  readonly text: string;
}

function panel(title: string, bars: readonly Bar[], top: number): { svg: string; height: number } {
  const max = Math.max(1, ...bars.map((bar) => Math.abs(bar.value)));
  const scale = (WIDTH - LABEL_WIDTH - 140) / max;
  const parts = [`<text x="16" y="${top + 18}" font-size="15" font-weight="bold">${escapeXml(title)}</text>`];
  bars.forEach((bar, index) => {
    const y = top + 32 + index * (BAR_HEIGHT + GAP);
    const width = Math.max(1, Math.abs(bar.value) * scale);
    parts.push(
      `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" font-size="12" text-anchor="end">${escapeXml(bar.label)}</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colourOf(bar.id)}"/>`,
      `<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${y + 15}" font-size="12">${escapeXml(bar.text)}</text>`,
    );
  });
  return { svg: parts.join("\n"), height: 32 + bars.length * (BAR_HEIGHT + GAP) + 16 };
}

/** The chart's accessible name (its <title>). */
const TITLE = "Portcullis benchmark: requests per second per row, and the CPU time each proxy adds per request";

export function renderChart(bench: BenchResult): string {
  const throughput = panel(
    `Requests per second at ${bench.options.connections} connections (× bare Worker)`,
    bench.rows.map((row) => ({
      id: row.id,
      label: row.label,
      value: row.requestsPerSecond,
      text: `${row.requestsPerSecond.toFixed(0)} req/s (${row.ratioToBare.toFixed(2)}×)`,
    })),
    8,
  );
  const added = bench.rows.filter((row) => row.addedCpuMicros !== undefined);
  const cpu = panel(
    "CPU time the proxy adds per request, µs (gateway rows vs bare Worker, seed rows vs plain Express proxy)",
    added.map((row) => ({
      id: row.id,
      label: row.label,
      value: row.addedCpuMicros ?? 0,
      text: `${(row.addedCpuMicros ?? 0).toFixed(0)} µs`,
    })),
    8 + throughput.height,
  );
  const height = 8 + throughput.height + cpu.height + 24;
  const note = `${bench.options.smoke ? "SMOKE RUN — not a measurement. " : ""}Run ${bench.startedAt}, ${bench.options.durationSeconds} s per row.`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(TITLE)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    throughput.svg,
    cpu.svg,
    `<text x="16" y="${height - 10}" font-size="11" fill="#555">${escapeXml(note)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
