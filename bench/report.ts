/**
 * Renders one or more results files of `run.ts` as Markdown tables (for the README):
 * `npx tsx report.ts results/bench-….json [more.json]`.
 */
import { readFileSync } from 'node:fs';
import { fmt } from './lib/report';

interface Sample {
  throughput: number;
  idleBefore?: number;
}
interface Results {
  startedAt: string;
  command: string;
  machine: { node: string; cpus: number; cpuModel: string };
  settings: { tasks: number; reps: number; delayTasks?: number };
  drain: Array<{
    id: string;
    label: string;
    median: { enqueueMs: number; throughput: number };
    samples: Sample[];
  }>;
  ratios: Array<{ oasis: string; peer: string; throughputRatio: number }>;
  delay?: Array<{
    id: string;
    label: string;
    median: { latenessP50Ms: number; latenessP99Ms: number; latenessMaxMs: number };
  }>;
  core: { metrics: Record<string, number | string> } | null;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** Markdown for one results file. */
export function toMarkdown(r: Results): string {
  const out: string[] = [];
  out.push(
    `Run of ${r.startedAt} — \`${r.command}\` — Node ${r.machine.node}, ${r.machine.cpus} × ${r.machine.cpuModel}`,
    '',
  );
  if (r.drain.length > 0) {
    out.push(
      row(['benchmark', 'system', 'enqueue ms', 'drain tasks/s (median)', 'each run']),
      row(['---', '---', '---:', '---:', '---']),
    );
    for (const d of r.drain) {
      out.push(
        row([
          `\`${d.id}\``,
          d.label,
          fmt(d.median.enqueueMs),
          fmt(d.median.throughput),
          d.samples.map((s) => fmt(s.throughput)).join(', '),
        ]),
      );
    }
    out.push('');
  }
  if (r.ratios.length > 0) {
    out.push(row(['Oasis', 'peer', 'throughput ratio']), row(['---', '---', '---:']));
    for (const x of r.ratios)
      out.push(row([`\`${x.oasis}\``, `\`${x.peer}\``, `${x.throughputRatio.toFixed(2)}×`]));
    out.push('');
  }
  if (r.delay && r.delay.length > 0) {
    out.push(
      row(['benchmark', 'system', 'p50 ms', 'p99 ms', 'max ms']),
      row(['---', '---', '---:', '---:', '---:']),
    );
    for (const d of r.delay) {
      out.push(
        row([
          `\`${d.id}\``,
          d.label,
          fmt(d.median.latenessP50Ms),
          fmt(d.median.latenessP99Ms),
          fmt(d.median.latenessMaxMs),
        ]),
      );
    }
    out.push('');
  }
  if (r.core) {
    out.push(row(['measure', 'value']), row(['---', '---:']));
    for (const [k, v] of Object.entries(r.core.metrics)) {
      out.push(row([k, typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 1) : String(v)]));
    }
    out.push('');
  }
  return out.join('\n');
}

for (const file of process.argv.slice(2)) {
  console.log(toMarkdown(JSON.parse(readFileSync(file, 'utf8')) as Results));
}
