import type { History } from '@temporalio/common/lib/proto-utils';
import { fleetRunHistories, startFleet } from '../src/client/fleets';
import { untilHealthy } from '../src/devserver/wait';
import { fleetPlanSchema } from '../src/fleet/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { FleetResult, MemberReport } from '../src/workflows/fleet/messages';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';
import { median, percentile, seconds } from './stats';

const GROUPS = 50;
const MAX_PARALLEL = 10;
/** Runs of the one-group fleet; its median is "one group's time". */
const SINGLE_RUNS = 3;
const TARGET_RATIO = 1.2;
const DEADLINE_MS = 10 * 60_000;

/** Every group's upgrade: blue/green with short fixed timings, no approval, no query load (bakes pass on health). */
const BASE = {
  strategy: 'blue-green',
  green: { provisioner: { type: 'sandbox', startupDelay: '1s' } },
  health: { interval: '1s', timeout: '5m', smokeQueries: ['SELECT 1'] },
  approval: { required: false },
  analysis: { minQueries: 0, interval: '1s' },
  bake: '5s',
  drain: { timeout: '30m', interval: '1s' },
  retire: { keepBlueFor: '1s', teardown: true },
};
const SETTINGS =
  'blue/green, sandbox provisioner (startupDelay 1s), health.interval 1s, bake 5s (analysis every 1s), drain.interval 1s, keepBlueFor 1s, no approval; gateway health every 1s';

type Event = NonNullable<History['events']>[number];

function ms(event: Event): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

/** What one fleet run measured. */
interface FleetRun {
  wallMs: number;
  result: FleetResult;
  events: number;
  runs: number;
  /** Per group: start (member startedAt) to the report that blue is kept warm (the wave's slot frees), and to its end. */
  warmMs: number[];
  groupMs: number[];
  /** A freed slot (the report that frees it reaches the fleet) to the next child's start: initiated, and started. */
  slotToInitiatedMs: number[];
  slotToStartedMs: number[];
  /** What the parent did between a freeing report and the start it allowed: workflow-task queueing and run time. */
  taskQueueMs: number[];
  taskRunMs: number[];
}

async function runFleet(stack: Stack, sandbox: SandboxFleet, name: string, pattern: string): Promise<FleetRun> {
  const document = {
    name,
    gateway: { url: sandbox.gatewayUrl, requestTimeout: '10s' },
    version: '480',
    base: BASE,
    groups: [{ pattern }],
    waves: [{ name: 'all', rest: true, maxParallel: MAX_PARALLEL }],
  };
  const t0 = Date.now();
  const handle = await startFleet(stack.client, document, fleetPlanSchema.parse(document), { startedBy: 'bench' });
  let result: FleetResult;
  try {
    const deadline = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`fleet ${name} did not end within ${DEADLINE_MS / 60_000} min`)),
        DEADLINE_MS,
      ).unref(),
    );
    result = await Promise.race([handle.result(), deadline]);
  } catch (error) {
    await handle.terminate('bench cleanup').catch(() => undefined);
    for await (const execution of stack.client.workflow.list({
      query: `CutoverFleet = "${name}" AND ExecutionStatus = "Running"`,
    }))
      await stack.client.workflow
        .getHandle(execution.workflowId)
        .terminate('bench cleanup')
        .catch(() => undefined);
    throw error;
  }
  const wallMs = Date.now() - t0;
  const histories = await fleetRunHistories(stack.client, handle.workflowId);
  return { wallMs, result, ...analyseFleetHistory(histories, result) };
}

/** Reads the fleet's histories (every run): when each slot freed, and when the child it let start was initiated and started. */
function analyseFleetHistory(histories: History[], result: FleetResult): Omit<FleetRun, 'wallMs' | 'result'> {
  const events = histories.flatMap((history) => history.events ?? []);
  const freedAt = new Map<string, number>();
  const frees: { at: number; index: number }[] = [];
  const initiated: { at: number; index: number; workflowId: string }[] = [];
  const startedAt = new Map<string, number>();
  events.forEach((event, index) => {
    const signal = event.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'fleetMemberReport') {
      const data = signal.input?.payloads?.[0]?.data;
      if (!data) return;
      const report = JSON.parse(Buffer.from(data).toString('utf8')) as MemberReport;
      const frees_ =
        ['keepWarm', 'retire'].includes(report.stepKind) ||
        ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'].includes(report.phase);
      if (frees_ && !freedAt.has(report.workflowId)) {
        freedAt.set(report.workflowId, ms(event));
        frees.push({ at: ms(event), index });
      }
    }
    const start = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (start?.workflowId) initiated.push({ at: ms(event), index, workflowId: start.workflowId });
    const started = event.childWorkflowExecutionStartedEventAttributes;
    if (started?.workflowExecution?.workflowId) startedAt.set(started.workflowExecution.workflowId, ms(event));
  });
  const slotToInitiatedMs: number[] = [];
  const slotToStartedMs: number[] = [];
  const taskQueueMs: number[] = [];
  const taskRunMs: number[] = [];
  // The k-th start past the first maxParallel waited for the (k - maxParallel)-th slot to free.
  for (let k = MAX_PARALLEL; k < initiated.length; k++) {
    const free = frees[k - MAX_PARALLEL];
    const start = initiated[k];
    if (!free || free.at > start.at) continue;
    slotToInitiatedMs.push(start.at - free.at);
    const childStarted = startedAt.get(start.workflowId);
    if (childStarted !== undefined) slotToStartedMs.push(childStarted - free.at);
    // The workflow task that issued the start: the last one scheduled and started before it.
    let scheduled: number | undefined;
    let taskStarted: number | undefined;
    for (let i = start.index; i > free.index; i--) {
      const event = events[i];
      if (taskStarted === undefined && event.workflowTaskStartedEventAttributes) taskStarted = ms(event);
      if (taskStarted !== undefined && event.workflowTaskScheduledEventAttributes) {
        scheduled = ms(event);
        break;
      }
    }
    if (scheduled !== undefined && taskStarted !== undefined) {
      taskQueueMs.push(taskStarted - scheduled);
      taskRunMs.push(start.at - taskStarted);
    }
  }
  const members = result.status.members;
  return {
    events: events.length,
    runs: histories.length,
    warmMs: members.flatMap((member) => {
      const warm = freedAt.get(member.workflowId);
      return warm !== undefined && member.startedAt ? [warm - Date.parse(member.startedAt)] : [];
    }),
    groupMs: members.flatMap((member) =>
      member.startedAt && member.endedAt ? [Date.parse(member.endedAt) - Date.parse(member.startedAt)] : [],
    ),
    slotToInitiatedMs,
    slotToStartedMs,
    taskQueueMs,
    taskRunMs,
  };
}

const dist = (values: number[]) =>
  values.length
    ? `median ${seconds(median(values))}, p95 ${seconds(percentile(values, 95))}, max ${seconds(Math.max(...values))}`
    : 'n/a';

/** Fleet row: 50 routing groups, one wave, maxParallel 10, on one worker process. */
export async function fleetBench(stack: Stack): Promise<Row[]> {
  const worker = stack.worker ?? (await stack.startWorker());
  const prefix = stack.group('fb');
  // (a) one group's time: a fleet of one group, same settings, a few times.
  const singles: FleetRun[] = [];
  for (let i = 0; i < SINGLE_RUNS; i++) {
    const group = `${prefix}one${i}`;
    const sandbox = await stack.fleet({
      healthIntervalMs: 1000,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    await untilHealthy(sandbox, `${group}-blue`, 120_000);
    const run = await runFleet(stack, sandbox, `${prefix}-one-${i}`, group);
    if (run.result.outcome !== 'SUCCEEDED') throw new Error(`one-group fleet ${i + 1}: ${run.result.outcome}`);
    singles.push(run);
    progress(
      `fleet of 1 group, run ${i + 1}/${SINGLE_RUNS}: ${seconds(run.wallMs)} wall, group warm after ${seconds(run.warmMs[0])}, done after ${seconds(run.groupMs[0])}, ${run.events} events`,
    );
  }
  await stack.stopFleets();
  // (b) the fleet of 50.
  const groups = Array.from({ length: GROUPS }, (_, i) => `${prefix}x${String(i).padStart(2, '0')}`);
  progress(`fleet of ${GROUPS}: starting a sandbox with ${GROUPS} blue clusters`);
  const sandbox = await stack.fleet({
    healthIntervalMs: 1000,
    clusters: groups.map((group) => ({ name: `${group}-blue`, version: '470', routingGroup: group })),
  });
  for (const group of groups) await untilHealthy(sandbox, `${group}-blue`, 120_000);
  worker.resetCounters();
  const benchCpu = process.cpuUsage();
  progress(`fleet of ${GROUPS}: one wave, maxParallel ${MAX_PARALLEL}`);
  const ticker = setInterval(
    () =>
      progress(
        `fleet of ${GROUPS}: running; worker CPU ${worker.cpuSeconds().toFixed(1)} s, peak RSS ${worker.peakRssMiB().toFixed(0)} MiB`,
      ),
    15_000,
  );
  let fleet: FleetRun;
  try {
    fleet = await runFleet(stack, sandbox, `${prefix}-fifty`, `${prefix}x.*`);
  } finally {
    clearInterval(ticker);
  }
  const workerCpuS = worker.cpuSeconds();
  const workerRssMiB = worker.peakRssMiB();
  const cpu = process.cpuUsage(benchCpu);
  const benchCpuS = (cpu.user + cpu.system) / 1e6;
  const succeeded = fleet.result.status.members.filter((member) => member.state === 'SUCCEEDED').length;

  const single = median(singles.map((run) => run.wallMs));
  const singleWarm = median(singles.map((run) => run.warmMs[0]));
  const singleGroup = median(singles.map((run) => run.groupMs[0]));
  const waves = GROUPS / MAX_PARALLEL;
  const ratio = fleet.wallMs / (waves * single);
  // With slots freed when blue is kept warm, the ideal is 5 groups' time to warm, then the last ones' tail.
  const ideal = waves * singleWarm + (single - singleWarm);
  const overheadPerGroup = (fleet.wallMs - waves * single) / GROUPS;

  out(
    `## Fleet: ${GROUPS} routing groups, one wave with maxParallel ${MAX_PARALLEL}, on one \`cutover worker\` process`,
  );
  out(`each group: ${SETTINGS}`);
  out(
    table(
      ['figure', 'value'],
      [
        [
          `(a) one group alone (fleet of 1; median of ${SINGLE_RUNS})`,
          `${seconds(single)} wall (group warm after ${seconds(singleWarm)}, done after ${seconds(singleGroup)})`,
        ],
        [
          `(b) fleet of ${GROUPS} wall`,
          `${seconds(fleet.wallMs)}; ${succeeded}/${GROUPS} SUCCEEDED, outcome ${fleet.result.outcome}`,
        ],
        [
          `(b) ratio to ${waves} x one group`,
          `${ratio.toFixed(2)}x (${seconds(fleet.wallMs)} / ${seconds(waves * single)}) -> ${ratio <= TARGET_RATIO ? 'PASS' : 'FAIL'} (target <= ${TARGET_RATIO}x)`,
        ],
        [
          '(b) ratio to the ideal (5 x time to warm + the last tail)',
          `${(fleet.wallMs / ideal).toFixed(2)}x (ideal ${seconds(ideal)})`,
        ],
        [`(c) fleet overhead per group ((wall - ${waves} x single) / ${GROUPS})`, seconds(overheadPerGroup)],
        ['(c) slot freed -> next child start initiated', dist(fleet.slotToInitiatedMs)],
        ['(c) slot freed -> next child running (ChildWorkflowExecutionStarted)', dist(fleet.slotToStartedMs)],
        ['(c) of which: workflow task queued (scheduled -> started)', dist(fleet.taskQueueMs)],
        ['(c) of which: workflow task run (started -> start initiated)', dist(fleet.taskRunMs)],
        ['    group upgrades in the fleet: start -> warm', dist(fleet.warmMs)],
        ['    group upgrades in the fleet: start -> done', dist(fleet.groupMs)],
        [
          '(d) parent history events',
          `${fleet.events} in ${fleet.runs} run${fleet.runs === 1 ? '' : 's'} (${(fleet.events / GROUPS).toFixed(1)} per group; continue-as-new at 2,000)`,
        ],
        [
          '(e) worker CPU / peak RSS',
          `${workerCpuS.toFixed(1)} s (${((100 * workerCpuS * 1000) / fleet.wallMs).toFixed(0)}% of a core), ${workerRssMiB.toFixed(0)} MiB`,
        ],
        ['    bench process CPU (sandbox, client)', `${benchCpuS.toFixed(1)} s`],
      ],
    ),
  );
  out(
    'method: wall = client start -> result of the fleet workflow; slot freed = the fleetMemberReport signal that says blue is kept warm (or the group ended) in the parent history, paired with the start it allowed (the k-th start after the first 10 with the (k-10)-th freeing); ' +
      'worker CPU = utime+stime of the worker process from /proc, peak RSS = VmHWM reset before the 50-group fleet.',
  );
  out();
  return [
    {
      row: `fleet of ${GROUPS} (maxParallel ${MAX_PARALLEL}): wall / (${waves} x one group)`,
      measured: `${ratio.toFixed(2)}x (${seconds(fleet.wallMs)} / ${seconds(waves * single)}), ${succeeded}/${GROUPS} succeeded`,
      target: `<= ${TARGET_RATIO}x, all succeed`,
      met: ratio <= TARGET_RATIO && succeeded === GROUPS,
      note: `overhead ${seconds(overheadPerGroup)} per group; slot freed -> next child start ${dist(fleet.slotToInitiatedMs)}; ${fleet.events} parent events in ${fleet.runs} run(s); worker ${workerCpuS.toFixed(1)} s CPU, ${workerRssMiB.toFixed(0)} MiB`,
    },
  ];
}
