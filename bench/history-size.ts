import { integrationsFromEnv } from '../src/worker/integrations';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { waitForStatus } from '../src/devserver/wait';
import { runsOf } from './history';
import { benchPlan } from './plans';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';

interface Variant {
  strategy: 'blue-green' | 'canary';
  waitS: number;
}

interface Measured extends Variant {
  runs: number;
  totalEvents: number;
  largestRun: number;
  samples: number;
  wallMs: number;
}

/**
 * One upgrade whose bake(s) and drain last `waitS` seconds (a query of 2×waitS is started on blue
 * when the final bake begins, so the drain waits for it), polling every 1 s.
 */
async function measure(
  stack: Stack,
  variant: Variant,
  trino: ReturnType<typeof integrationsFromEnv>,
): Promise<Measured> {
  const { strategy, waitS } = variant;
  const group = stack.group(strategy === 'canary' ? 'hc' : 'hb');
  const fleet = await stack.fleet({
    healthIntervalMs: 1000,
    rulesRefreshMs: 1000,
    defaultRoutingGroup: group,
    ...(strategy === 'canary' ? { rules: canaryReadyRules(`${group}-canary`) } : {}),
    clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
  });
  const blueUrl = fleet.cluster(`${group}-blue`)!.url;
  const plan = benchPlan(fleet.gatewayUrl, group, {
    health: { interval: '1s' },
    bake: `${waitS}s`,
    drain: { interval: '1s' },
    ...(strategy === 'canary'
      ? {
          strategy: 'canary',
          // No query load here (history size is measured): the bakes pass on health alone.
          canary: {
            traffic: 'routing-rule',
            rulesRefresh: '1s',
            preset: 'standard',
            analysis: { interval: '1s', minQueries: 0 },
          },
        }
      : {}),
  });
  const started = Date.now();
  const handle = await stack.start(plan);
  // Hold blue busy through the final bake and for waitS after it: the drain then lasts about waitS.
  await waitForStatus(
    handle,
    (status) => status.phase === 'BAKING' && status.trafficPercent === 100,
    `${strategy} ${waitS}s at 100%`,
    (5 * waitS + 120) * 1000,
  );
  const longQuery = trino
    .trino(blueUrl)
    .execute(`/* sandbox:duration=${2 * waitS}s */ SELECT 1`, { source: 'bench-drain' });
  const result = await stack.result(handle);
  await longQuery.catch(() => undefined);
  if (result.outcome !== 'SUCCEEDED')
    throw new Error(`history ${strategy} ${waitS}s: ${result.outcome} ${result.reason ?? ''}`);
  const runs = await runsOf(stack.client, handle.workflowId);
  const measured: Measured = {
    ...variant,
    runs: runs.length,
    totalEvents: runs.reduce((sum, run) => sum + run.events, 0),
    largestRun: Math.max(...runs.map((run) => run.events)),
    samples: result.status.analysis?.samples ?? 0,
    wallMs: Date.now() - started,
  };
  progress(
    `history ${strategy} ${waitS}s: ${measured.totalEvents} events in ${measured.runs} run(s), wall ${(measured.wallMs / 1000).toFixed(0)} s`,
  );
  return measured;
}

/** Row 3: history events as the waits grow (all variants run concurrently). */
export async function historySize(stack: Stack, waits: number[]): Promise<Row[]> {
  const trino = integrationsFromEnv({});
  const variants: Variant[] = waits.flatMap((waitS) => [
    { strategy: 'blue-green' as const, waitS },
    { strategy: 'canary' as const, waitS },
  ]);
  progress(
    `history: ${variants.length} upgrades concurrently; the longest (canary, 4 bakes + drain of ${Math.max(...waits)} s) takes about ${Math.round((5 * Math.max(...waits)) / 60)} min`,
  );
  let measured: Measured[];
  try {
    measured = await Promise.all(variants.map((variant) => measure(stack, variant, trino)));
  } finally {
    await trino.close();
  }
  const of = (strategy: Variant['strategy']) =>
    measured.filter((m) => m.strategy === strategy).sort((a, b) => a.waitS - b.waitS);
  const blueGreen = of('blue-green');
  const canary = of('canary');
  out('## 3. History size (events) vs. length of the waits, poll interval 1 s');
  out(
    'blue/green: bake = drain = W; canary: preset standard (5% → 25% → 50% → 100%), each step baking W, drain W, analysis every 1s',
  );
  out(
    table(
      ['strategy', 'W', 'wall', 'events (all runs)', 'runs (continue-as-new)', 'largest run', 'analysis samples'],
      [...blueGreen, ...canary].map((m) => [
        m.strategy,
        `${m.waitS} s`,
        `${(m.wallMs / 1000).toFixed(0)} s`,
        String(m.totalEvents),
        String(m.runs),
        String(m.largestRun),
        m.strategy === 'canary' ? String(m.samples) : '-',
      ]),
    ),
  );
  if (canary.length)
    out(
      'canary: healthy samples live in the heartbeat of one analyseCanary activity per bake; only bad samples and recoveries add events',
    );
  out();
  return [
    flatRow(`3. history events, blue/green (bake+drain ${waits.join('/')} s)`, blueGreen),
    flatRow(`3. history events, 4-step canary (bakes+drain ${waits.join('/')} s)`, canary),
  ];
}

/** A row whose target is a history that does not grow with the waits. */
function flatRow(row: string, measured: Measured[]): Row {
  const counts = measured.map((m) => m.totalEvents);
  const spread = Math.max(...counts) - Math.min(...counts);
  return {
    row,
    measured: measured.map((m) => `${m.waitS}s: ${m.totalEvents}${m.runs > 1 ? ` in ${m.runs} runs` : ''}`).join(', '),
    target: 'does not grow with the waits',
    met: spread === 0,
    note: spread === 0 ? undefined : `varies by ${spread} events between wait lengths`,
  };
}
