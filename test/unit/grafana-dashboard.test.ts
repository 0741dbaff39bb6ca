/**
 * The Grafana dashboard (grafana/s3-orchestrator.json) only queries metrics /metrics can show: every `s3o_` name in
 * its queries must be a family of a rendering built from the code itself (the fleet families over the domain test
 * services, with the request families), or a histogram family's `_bucket`, `_sum` or `_count` series.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import dashboard from '../../grafana/s3-orchestrator.json' with { type: 'json' };
import { fleetMetrics } from '../../src/admin/fleet-metrics.ts';
import type { BackendStateRpc } from '../../src/backends/backend-state-rpc.ts';
import { renderMetrics } from '../../src/observe/metrics.ts';
import { REQUEST_METRIC_NAMES } from '../../src/observe/request-metrics.ts';
import { DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, domainServices, startDomainDatabase } from './support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

/** Every series name /metrics renders, from its `# TYPE` lines (a histogram's three series names too). */
async function renderedNames(): Promise<Set<string>> {
  const world = await domainServices({ backends: ['b1', 'b2'] });
  // The domain services model no drain state; an active backend with no drain is what a fresh Durable Object says.
  const backendState = (name: string): BackendStateRpc => ({ ...world.services.backendState(name), snapshot: async () => ({ mode: 'active' }) });
  const text = renderMetrics(await fleetMetrics({ ...world.services, backendState }));
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

describe('the Grafana dashboard', () => {
  it(
    'queries only metric names the code defines',
    async () => {
      const defined = await renderedNames();
      for (const name of REQUEST_METRIC_NAMES) expect(defined, name).toContain(name);
      const panels = dashboard.panels as Panel[];
      const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
      expect(queries.length).toBeGreaterThan(20);
      const unknown = queries.flatMap(({ panel, expr }) => [...expr.matchAll(/\bs3o_[a-z0-9_]+/g)].map((m) => m[0]).filter((n) => !defined.has(n)).map((n) => `${panel}: ${n}`));
      expect(unknown).toEqual([]);
      for (const { panel, expr } of queries) expect(expr, panel).toMatch(/\bs3o_/);
    },
    DOMAIN_TEST_TIMEOUT_MS,
  );

  it('has the rows an operator looks for', () => {
    const rows = (dashboard.panels as Panel[]).filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Requests', 'Latency', 'Sizes', 'Backends', 'Quota and usage', 'Drains and jobs']);
  });
});
