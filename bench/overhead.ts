import { untilHealthy } from '../src/devserver/wait';
import { analyseHistory } from './history';
import { benchPlan } from './plans';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';
import { median, seconds } from './stats';

/**
 * Row 1: wall time of a blue/green upgrade minus the external waits it was configured for, read
 * from the workflow history.
 */
export async function overhead(stack: Stack, runs: number): Promise<Row[]> {
  const samples: {
    total: number;
    client: number;
    wait: number;
    quick: number;
    events: number;
    waits: Record<string, number>;
  }[] = [];
  for (let i = 0; i < runs; i++) {
    const group = stack.group('ovh');
    const fleet = await stack.fleet({
      healthIntervalMs: 1000,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    await untilHealthy(fleet, `${group}-blue`, 120_000);
    const plan = benchPlan(fleet.gatewayUrl, group, {
      green: { provisioner: { startupDelay: '2s' } },
      health: { interval: '1s' },
      bake: '5s',
      drain: { interval: '1s' },
      retire: { keepBlueFor: '2s' },
    });
    const t0 = Date.now();
    const handle = await stack.start(plan);
    const result = await stack.result(handle);
    const client = Date.now() - t0;
    if (result.outcome !== 'SUCCEEDED')
      throw new Error(`overhead run ${i + 1}: ${result.outcome} ${result.reason ?? ''}`);
    const h = await analyseHistory(stack.client, handle.workflowId);
    samples.push({
      total: h.totalMs,
      client,
      wait: h.waitMs,
      quick: h.quickActivityMs,
      events: h.events,
      waits: h.waits,
    });
    progress(
      `overhead run ${i + 1}/${runs}: wall ${seconds(h.totalMs)}, external waits ${seconds(h.waitMs)}, overhead ${seconds(h.totalMs - h.waitMs)} (quick activities ${seconds(h.quickActivityMs)}), ${h.events} events`,
    );
  }
  const overheads = samples.map((s) => s.total - s.wait);
  const med = median(overheads);
  out('## 1. Orchestration overhead per blue/green upgrade');
  out(
    'plan: sandbox provisioner (startupDelay 2s), approval not required, health.interval 1s, bake 5s, drain.interval 1s, keepBlueFor 2s; gateway health every 1s',
  );
  out(
    table(
      ['run', 'wall (history)', 'wall (client)', 'external waits', 'overhead', 'of which quick activities', 'events'],
      samples.map((s, i) => [
        String(i + 1),
        seconds(s.total),
        seconds(s.client),
        seconds(s.wait),
        seconds(s.total - s.wait),
        seconds(s.quick),
        String(s.events),
      ]),
    ),
  );
  const waitNames = Object.keys(samples[0]?.waits ?? {});
  out(
    `median external waits by kind: ${waitNames.map((name) => `${name} ${seconds(median(samples.map((s) => s.waits[name] ?? 0)))}`).join(', ')}`,
  );
  out(
    'method: wall = WorkflowExecutionStarted → WorkflowExecutionCompleted event times; external waits = started→closed of the waiting activities ' +
      '(provisionGreen, verifyGreen, waitForGatewayHealthy, shiftTraffic, the bake (analyseCanary), drainBackends) plus started→fired of timers (keep-warm); ' +
      'overhead = the rest: workflow tasks, task queueing (scheduled→started) and the quick gateway/provisioner calls (inspect, register, retire).',
  );
  out();
  return [
    {
      row: '1. orchestration overhead per blue/green upgrade (median)',
      measured: `${seconds(med)} (of ${seconds(median(samples.map((s) => s.total)))} wall; ${runs} runs)`,
      target: '< 1 s',
      met: med < 1000,
      note:
        med < 1000
          ? undefined
          : `dominated by quick activities (median ${seconds(median(samples.map((s) => s.quick)))}) and task round-trips; see the per-run table`,
    },
  ];
}
