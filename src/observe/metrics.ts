/** Prometheus text exposition (version 0.0.4): families with HELP and TYPE, then their samples. */

export type MetricFamily = ScalarFamily | HistogramFamily;

export interface ScalarFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels?: Record<string, string>; value: number }[];
}

export interface HistogramFamily {
  name: string;
  help: string;
  type: 'histogram';
  /** Upper bounds of the finite buckets, ascending; `+Inf` is implied. */
  bounds: readonly number[];
  /** `counts` per bucket, not cumulative: one per bound, then the overflow (+Inf) bucket. */
  samples: { labels?: Record<string, string>; counts: readonly number[]; sum: number }[];
}

export function renderMetrics(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === 'histogram') lines.push(...histogramLines(family));
    else for (const sample of family.samples) lines.push(`${family.name}${labelText(sample.labels)} ${sample.value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `_bucket` lines are cumulative (each counts every observation up to its bound), then `_sum` and `_count`. */
function histogramLines(family: HistogramFamily): string[] {
  const lines: string[] = [];
  for (const sample of family.samples) {
    let cumulative = 0;
    const bounds = [...family.bounds.map(String), '+Inf'];
    bounds.forEach((le, i) => {
      cumulative += sample.counts[i] ?? 0;
      lines.push(`${family.name}_bucket${labelText({ ...sample.labels, le })} ${cumulative}`);
    });
    lines.push(`${family.name}_sum${labelText(sample.labels)} ${sample.sum}`, `${family.name}_count${labelText(sample.labels)} ${cumulative}`);
  }
  return lines;
}

function labelText(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}
