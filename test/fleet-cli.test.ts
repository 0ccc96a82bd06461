import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fleetIdOf, fleetJson, fleetNameOf, type FleetView } from '../src/client/commands/fleet-handle';
import { fleetListQuery, fleetMembersQuery } from '../src/client/commands/fleet-list';
import { renderFleetStatus, renderFleetView } from '../src/client/commands/fleet-status';
import { fleetChanges, fleetEnding, fleetViewChanges } from '../src/client/commands/fleet-watch';
import { UsageError } from '../src/client/output';
import { signAt } from '../src/client/signing';
import { RefusedError } from '../src/client/upgrades';
import { parsePrivateKey } from '../src/signing/openssh';
import { parseApprovalPayload } from '../src/signing/payload';
import type { FleetMemberStatus, FleetStatus } from '../src/workflows/fleet/messages';
import { TASK_QUEUE } from '../src/workflows/messages';
import { CutoverFleet, CutoverPhase, CutoverRoutingGroup } from '../src/workflows/search-attributes';
import { runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';
import { FIXTURE_KEY } from './support/keys';
import { startTestServer } from './support/temporal';

// Times in the rendered status are local clock times: pin the zone so the expected text is fixed.
process.env.TZ = 'UTC';

const EXAMPLE = join(__dirname, '..', 'plans', 'sandbox-fleet.yaml');

function member(group: string, wave: number, fields: Partial<FleetMemberStatus>): FleetMemberStatus {
  return {
    routingGroup: group,
    wave,
    workflowId: `cutover-${group}`,
    strategy: 'blue-green',
    green: { name: `${group}-480`, version: '480' },
    state: 'PENDING',
    trafficPercent: 0,
    ...fields,
  };
}

/** The example fleet in its second wave: adhoc done, etl baking at 100%, bi rolled back and the fleet halted. */
function haltedFleet(): FleetStatus {
  return {
    id: 'cutover-fleet-sandbox-480',
    runId: 'run-1',
    name: 'sandbox-480',
    version: '480',
    gateway: 'http://127.0.0.1:8080',
    onFailure: 'halt',
    phase: 'HALTED',
    paused: false,
    wave: 1,
    gate: '1:wave',
    waves: [
      {
        name: 'canary-groups',
        maxParallel: 1,
        approval: false,
        state: 'DONE',
        groups: ['adhoc'],
        startedAt: '2026-12-03T10:00:00.000Z',
        endedAt: '2026-12-03T10:04:10.000Z',
      },
      {
        name: 'quarter',
        maxParallel: 2,
        approval: false,
        soak: '1m',
        state: 'RUNNING',
        groups: ['etl', 'bi'],
        startedAt: '2026-12-03T10:04:10.000Z',
      },
      { name: 'rest', maxParallel: 3, approval: true, state: 'PENDING', groups: ['team-a', 'team-b', 'team-c'] },
    ],
    members: [
      member('adhoc', 0, {
        state: 'SUCCEEDED',
        phase: 'SUCCEEDED',
        trafficPercent: 100,
        step: 'retire trino-blue',
        startedAt: '2026-12-03T10:00:01.000Z',
        endedAt: '2026-12-03T10:04:09.000Z',
      }),
      member('etl', 1, {
        state: 'RUNNING',
        phase: 'BAKING',
        trafficPercent: 100,
        step: 'bake 2m',
        startedAt: '2026-12-03T10:04:11.000Z',
      }),
      member('bi', 1, {
        strategy: 'canary',
        state: 'ROLLED_BACK',
        phase: 'ROLLED_BACK',
        trafficPercent: 0,
        step: 'bake 20s',
        reason: 'analysis: error rate 12% > 5%',
        startedAt: '2026-12-03T10:04:11.000Z',
        endedAt: '2026-12-03T10:05:02.000Z',
      }),
      member('team-a', 2, {}),
      member('team-b', 2, {}),
      member('team-c', 2, {}),
    ],
    halted: { routingGroup: 'bi', reason: 'ROLLED_BACK: analysis: error rate 12% > 5%' },
    awaitingApproval: false,
    runs: 1,
    timeline: [
      { at: '2026-12-03T10:00:00.000Z', message: 'wave 1 canary-groups started: adhoc' },
      { at: '2026-12-03T10:04:10.000Z', message: 'wave 2 quarter started: etl, bi' },
      { at: '2026-12-03T10:05:02.000Z', message: 'bi ROLLED_BACK: halting (onFailure halt)' },
    ],
  };
}

describe('cutover fleet: rendering, names and change detection', () => {
  test('a fleet is named by its name or its workflow id; anything else is bad usage', () => {
    assert.equal(fleetIdOf('sandbox-480'), 'cutover-fleet-sandbox-480');
    assert.equal(fleetIdOf('cutover-fleet-sandbox-480'), 'cutover-fleet-sandbox-480');
    assert.equal(fleetNameOf('cutover-fleet-sandbox-480'), 'sandbox-480');
    assert.equal(fleetNameOf('sandbox-480'), 'sandbox-480');
    assert.throws(() => fleetNameOf("x' OR 1=1"), UsageError);
    assert.throws(() => fleetIdOf('cutover-fleet-'), UsageError);
  });

  test('status of a halted fleet: what halted it and the commands that answer, then each wave as a table of its groups', () => {
    assert.deepEqual(renderFleetStatus(haltedFleet()), [
      'cutover-fleet-sandbox-480  fleet sandbox-480: 6 groups -> Trino 480 behind http://127.0.0.1:8080, on failure halt',
      '  phase:    HALTED',
      '  wave:     2/3 quarter: RUNNING',
      '  groups:   1 RUNNING, 1 SUCCEEDED, 3 PENDING, 1 ROLLED_BACK',
      '  HALTED:   bi: ROLLED_BACK: analysis: error rate 12% > 5%',
      '            `cutover fleet resume sandbox-480` goes on with the groups not started, `cutover fleet rollback sandbox-480 --reason "..."` rolls back the warm ones, `cutover fleet cancel sandbox-480` ends it',
      '  wave 1 canary-groups: DONE (1 at a time, 10:00:00-10:04:10)',
      '    GROUP  STATE      PHASE      TRAFFIC  STEP OR REASON     STARTED   ENDED',
      '    adhoc  SUCCEEDED  SUCCEEDED  100%     retire trino-blue  10:00:01  10:04:09',
      '  wave 2 quarter: RUNNING (2 at a time, soak 1m, 10:04:10-)',
      '    GROUP  STATE        PHASE        TRAFFIC  STEP OR REASON                 STARTED   ENDED',
      '    etl    RUNNING      BAKING       100%     bake 2m                        10:04:11  -',
      '    bi     ROLLED_BACK  ROLLED_BACK  0%       analysis: error rate 12% > 5%  10:04:11  10:05:02',
      '  wave 3 rest: PENDING (approval first, 3 at a time)',
      '    GROUP   STATE    PHASE  TRAFFIC  STEP OR REASON  STARTED  ENDED',
      '    team-a  PENDING  -      0%       -               -        -',
      '    team-b  PENDING  -      0%       -               -        -',
      '    team-c  PENDING  -      0%       -               -        -',
      '  recent:',
      '    10:00:00  wave 1 canary-groups started: adhoc',
      '    10:04:10  wave 2 quarter started: etl, bi',
      '    10:05:02  bi ROLLED_BACK: halting (onFailure halt)',
    ]);
  });

  test('status awaiting the approval of a wave names the wave, its groups and the command; paused says how to resume', () => {
    const status: FleetStatus = {
      ...haltedFleet(),
      phase: 'AWAITING_APPROVAL',
      halted: undefined,
      paused: true,
      wave: 2,
      gate: '2:approval',
      awaitingApproval: true,
    };
    const lines = renderFleetStatus(status);
    assert.equal(lines[1], '  phase:    AWAITING_APPROVAL  PAUSED (resume with `cutover fleet resume sandbox-480`)');
    assert.equal(lines[2], '  wave:     3/3 rest: PENDING');
    assert.equal(
      lines[4],
      '  AWAITING APPROVAL of wave 3 rest (team-a, team-b, team-c): approve with `cutover fleet approve sandbox-480`, or stop with `cutover fleet cancel sandbox-480`',
    );
  });

  test('status without a worker: the phase from search attributes and where to find the groups', () => {
    const view: FleetView = {
      id: 'cutover-fleet-sandbox-480',
      runId: 'run-1',
      executionStatus: 'RUNNING',
      startTime: '2026-12-03T10:00:00.000Z',
      name: 'sandbox-480',
      phase: 'RUNNING',
      targetVersion: '480',
      workerPolling: false,
      workerProblem: 'no worker is polling task queue cutover',
    };
    assert.deepEqual(renderFleetView(view), [
      'cutover-fleet-sandbox-480  fleet sandbox-480 -> Trino 480',
      '  phase:    RUNNING (from search attributes)',
      '  started:  2026-12-03T10:00:00.000Z',
      '  no worker is polling task queue cutover: start one with `cutover worker` (or `cutover dev`) for the full status and to act on the fleet',
      "  groups:   `cutover fleet list sandbox-480` lists its groups' upgrades from the search attributes",
    ]);
    // --json: the FleetStatus, when a worker answered, over what describe knows.
    const answered = fleetJson({ ...view, workerPolling: true, workerProblem: undefined, status: haltedFleet() });
    assert.equal(answered.phase, 'HALTED', "the worker's phase, not the search attribute's");
    assert.equal(answered.executionStatus, 'RUNNING');
    assert.deepEqual(answered.halted, haltedFleet().halted);
    assert.equal(fleetJson(view).phase, 'RUNNING');
  });

  test('watch reports each change once: a wave approved and started, a group moving on, the halt; nothing when nothing changed', () => {
    const awaiting: FleetStatus = {
      ...haltedFleet(),
      phase: 'AWAITING_APPROVAL',
      halted: undefined,
      awaitingApproval: true,
      wave: 1,
      waves: haltedFleet().waves.map((wave, index) =>
        index === 1 ? { ...wave, state: 'AWAITING_APPROVAL', startedAt: undefined } : wave,
      ),
      members: haltedFleet().members.map((each) =>
        each.wave === 1 ? member(each.routingGroup, 1, { strategy: each.strategy }) : each,
      ),
    };
    assert.deepEqual(
      fleetChanges(undefined, awaiting).map((change) => `${change.kind} ${change.subject}: ${change.text}`),
      [
        'fleet sandbox-480: fleet sandbox-480: AWAITING_APPROVAL, wave 2/3',
        'wave canary-groups: wave 1 canary-groups: done',
        'wave quarter: wave 2 quarter: awaits approval (etl, bi): approve with `cutover fleet approve sandbox-480`, or stop with `cutover fleet cancel sandbox-480`',
        'group adhoc: adhoc: SUCCEEDED · 100% green',
      ],
    );
    assert.deepEqual(fleetChanges(awaiting, awaiting), []);

    const started: FleetStatus = {
      ...awaiting,
      phase: 'RUNNING',
      awaitingApproval: false,
      waves: awaiting.waves.map((wave, index) =>
        index === 1 ? { ...wave, state: 'RUNNING', approvedBy: 'alice' } : wave,
      ),
      members: awaiting.members.map((each) =>
        each.routingGroup === 'etl'
          ? { ...each, state: 'RUNNING', phase: 'PROVISIONING', step: 'provision etl-480' }
          : each,
      ),
    };
    assert.deepEqual(
      fleetChanges(awaiting, started).map((change) => change.text),
      [
        'fleet sandbox-480: RUNNING, wave 2/3',
        'wave 2 quarter: started (etl, bi, 2 at a time), approved by alice',
        'etl: RUNNING · PROVISIONING · 0% green · provision etl-480',
      ],
    );

    const halted = haltedFleet();
    assert.deepEqual(
      fleetChanges(started, halted).map((change) => change.text),
      [
        'fleet sandbox-480: HALTED, wave 2/3',
        'fleet HALTED by bi: ROLLED_BACK: analysis: error rate 12% > 5%; `cutover fleet status sandbox-480` says how to resume, roll back or cancel',
        'etl: RUNNING · BAKING · 100% green · bake 2m',
        'bi: ROLLED_BACK · 0% green · analysis: error rate 12% > 5%',
      ],
    );
  });

  test('watch through a worker gap: a warning while none answers, then only what changed meanwhile', () => {
    const halted = haltedFleet();
    const described = {
      id: halted.id,
      runId: halted.runId,
      executionStatus: 'RUNNING' as const,
      startTime: '2026-12-03T10:00:00.000Z',
      name: halted.name,
      phase: 'HALTED',
    };
    const answered: FleetView = { ...described, workerPolling: true, status: halted };
    const silent: FleetView = {
      ...described,
      workerPolling: false,
      workerProblem: 'no worker is polling task queue cutover',
    };
    assert.deepEqual(
      fleetViewChanges(answered, silent, halted).map((change) => change.text),
      ['no worker is polling task queue cutover: start one with `cutover worker`; still watching'],
    );
    assert.deepEqual(fleetViewChanges(silent, silent, halted), []);
    const resumed: FleetStatus = { ...halted, phase: 'RUNNING', halted: undefined };
    assert.deepEqual(
      fleetViewChanges(silent, { ...answered, status: resumed }, halted).map((change) => change.text),
      ['a worker answers again', 'fleet sandbox-480: RUNNING, wave 2/3'],
    );
  });

  test('watch exits 0 only on SUCCEEDED of a completed run; other endings, and a run closed in another way, exit 1', () => {
    const view = (status: Partial<FleetStatus>, executionStatus: FleetView['executionStatus']): FleetView => ({
      id: 'cutover-fleet-sandbox-480',
      runId: 'run-1',
      executionStatus,
      startTime: '2026-12-03T10:00:00.000Z',
      status: { ...haltedFleet(), halted: undefined, ...status },
    });
    assert.equal(fleetEnding(view({ phase: 'RUNNING' }, 'RUNNING')), undefined);
    assert.equal(fleetEnding(view({ phase: 'HALTED' }, 'RUNNING')), undefined, 'a halted fleet waits for the operator');
    assert.equal(fleetEnding(view({ phase: 'SUCCEEDED' }, 'COMPLETED'))?.exitCode, 0);
    assert.equal(fleetEnding(view({ phase: 'COMPLETED_WITH_FAILURES' }, 'COMPLETED'))?.exitCode, 1);
    assert.equal(fleetEnding(view({ phase: 'CANCELLED' }, 'CANCELLED'))?.exitCode, 1);
    const terminated = fleetEnding({ ...view({}, 'TERMINATED'), status: undefined, phase: 'RUNNING' });
    assert.equal(terminated?.exitCode, 1);
    assert.match(terminated?.message ?? '', /workflow TERMINATED in phase RUNNING/);
  });

  test("list queries: fleets by workflow type (running unless --all); a fleet's groups by CutoverFleet without the fleet itself", () => {
    assert.equal(fleetListQuery({}), "WorkflowType = 'fleetUpgrade' AND ExecutionStatus = 'Running'");
    assert.equal(fleetListQuery({ all: true }), "WorkflowType = 'fleetUpgrade'");
    assert.equal(fleetMembersQuery('sandbox-480'), "CutoverFleet = 'sandbox-480' AND WorkflowType != 'fleetUpgrade'");
  });

  test("a signed fleet approval binds the fleet's first run and the gate its status names, in a payload the worker parses", () => {
    const key = parsePrivateKey(readFileSync(FIXTURE_KEY, 'utf8'));
    const status = { ...haltedFleet(), gate: '2:approval' };
    const signed = signAt(status.id, status, 'approve', 'alice', key, '10m');
    const claims = parseApprovalPayload(signed.payload);
    assert.deepEqual(
      [claims.workflowId, claims.runId, claims.action, claims.gate, claims.approver],
      ['cutover-fleet-sandbox-480', 'run-1', 'approve', '2:approval', 'alice'],
    );
    assert.throws(
      () => signAt(status.id, { problem: 'no worker is polling task queue cutover' }, 'approve', 'alice', key, '10m'),
      (error: unknown) =>
        error instanceof RefusedError && /no worker is polling task queue cutover/.test(error.message),
    );
  });
});

/**
 * The fleet verbs against a real Temporal dev server with no worker: refusals that need none,
 * a fleet started and found by name, its groups' upgrades by CutoverFleet, and a cancellation.
 */
describe('cutover fleet against Temporal, without a worker', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-fleet-cli-'));
    env = await startTestServer();
  });

  after(async () => {
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  const cutover = (...args: string[]): Promise<CliRun> =>
    runCli(env.address, ['fleet', ...args], { CUTOVER_POLICY_FILE: undefined, TEMPORAL_UI_URL: undefined });

  async function exists(id: string): Promise<boolean> {
    try {
      await env.client.workflow.getHandle(id).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  test('a fleet plan with problems is refused with every problem by field, exit 1, and no workflow starts', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      readFileSync(EXAMPLE, 'utf8')
        .replace('  health:\n    interval: 1s', '  health:\n    interval: 5x')
        .replace('bake: 2m', 'bake: soon'),
    );
    const run = await cutover('start', path);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      [
        `cutover: ${path} would be refused:`,
        '  - base.health.interval: must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)',
        '  - base.health.interval: must be a whole number of milliseconds (e.g. "1.5s", not "0.5ms")',
        '  - groups[1].overrides.bake: must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)',
        '  - groups[1].overrides.bake: must be a whole number of milliseconds (e.g. "1.5s", not "0.5ms")',
        'nothing was started',
        '',
      ].join('\n'),
    );
    const json = await cutover('start', path, '--json');
    assert.equal(json.code, 1, json.stderr);
    const answer = JSON.parse(json.stdout) as { valid: boolean; problems: string[] };
    assert.equal(answer.valid, false);
    assert.equal(answer.problems.length, 4, answer.problems.join('\n'));
    const missing = await cutover('start', join(dir, 'no-such-fleet.yaml'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-fleet\.yaml cannot be read: no such file/);
    assert.equal(await exists('cutover-fleet-sandbox-480'), false, 'no fleet workflow was started');
  });

  test('start, then status and list by name, a second start refused, the groups by CutoverFleet, and cancel', async () => {
    const start = await cutover('start', EXAMPLE, '--json');
    assert.equal(start.code, 0, start.stderr);
    const started = JSON.parse(start.stdout) as { id: string; runId: string; name: string; waves: { name: string }[] };
    assert.equal(started.id, 'cutover-fleet-sandbox-480');
    assert.deepEqual(
      started.waves.map((wave) => wave.name),
      ['canary-groups', 'quarter', 'rest'],
    );
    const description = await env.client.workflow.getHandle(started.id).describe();
    assert.equal(description.type, 'fleetUpgrade');
    assert.equal(description.runId, started.runId);
    assert.equal(description.typedSearchAttributes.get(CutoverFleet), 'sandbox-480');

    const again = await cutover('start', EXAMPLE);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /fleet sandbox-480 is already running as cutover-fleet-sandbox-480; watch it with `cutover fleet watch sandbox-480`/,
    );

    const status = await cutover('status', 'sandbox-480');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^cutover-fleet-sandbox-480 {2}fleet sandbox-480 -> Trino 480\n/);
    assert.match(status.stdout, /phase: +STARTING \(from search attributes\)/);
    assert.match(status.stdout, /no worker is polling task queue cutover: start one with `cutover worker`/);
    const statusJson = await cutover('status', 'cutover-fleet-sandbox-480', '--json');
    assert.equal(statusJson.code, 0, statusJson.stderr);
    const answer = JSON.parse(statusJson.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [answer.id, answer.runId, answer.name, answer.phase, answer.executionStatus, answer.workerPolling],
      ['cutover-fleet-sandbox-480', started.runId, 'sandbox-480', 'STARTING', 'RUNNING', false],
    );

    // An upgrade of the fleet's first group, as the fleet would start it (nothing runs it either).
    await env.client.workflow.start('blueGreenUpgrade', {
      taskQueue: TASK_QUEUE,
      workflowId: 'cutover-adhoc',
      args: [{}],
      typedSearchAttributes: [
        { key: CutoverFleet, value: 'sandbox-480' },
        { key: CutoverRoutingGroup, value: 'adhoc' },
        { key: CutoverPhase, value: 'STARTING' },
      ],
    });
    for (let tries = 0; ; tries++) {
      const listed = [];
      for await (const execution of env.client.workflow.list({ query: "CutoverFleet = 'sandbox-480'" }))
        listed.push(execution.workflowId);
      if (listed.length === 2) break;
      assert.ok(tries < 50, `visibility lists ${listed.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const [fleets, members, notAFleet, unknown] = await Promise.all([
      cutover('list', '--json'),
      cutover('list', 'cutover-fleet-sandbox-480'),
      cutover('status', 'cutover-adhoc'),
      cutover('status', 'nightly'),
    ]);
    assert.equal(fleets.code, 0, fleets.stderr);
    assert.deepEqual(
      (JSON.parse(fleets.stdout) as { id: string; name: string; phase: string }[]).map((row) => [
        row.id,
        row.name,
        row.phase,
      ]),
      [['cutover-fleet-sandbox-480', 'sandbox-480', 'STARTING']],
    );
    assert.equal(members.code, 0, members.stderr);
    assert.match(
      members.stdout,
      /^ID +STRATEGY +GROUP +TARGET +PHASE +TRAFFIC +STARTED +STATUS\ncutover-adhoc +- +adhoc /,
    );
    assert.doesNotMatch(members.stdout, /cutover-fleet-sandbox-480/);
    assert.equal(
      notAFleet.code,
      1,
      'a name is a fleet name: cutover-adhoc names the fleet cutover-fleet-cutover-adhoc',
    );
    assert.match(
      notAFleet.stderr,
      /no fleet with id cutover-fleet-cutover-adhoc; .*; cutover-adhoc looks like an upgrade's id: see `cutover status cutover-adhoc`/,
    );
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      'cutover: no fleet with id cutover-fleet-nightly; list them with `cutover fleet list --all`\n',
    );

    const cancel = await cutover('cancel', 'sandbox-480');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(
      cancel.stdout,
      /cutover-fleet-sandbox-480: cancellation requested: the groups' upgrades still running roll back, no new group starts/,
    );
    const history = await env.client.workflow.getHandle(started.id).fetchHistory();
    assert.ok(
      history.events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes),
      'the fleet has a cancel request in its history',
    );

    // Ended (here terminated, as no worker runs it): verbs are refused, watch exits 1 at once.
    await env.client.workflow.getHandle(started.id).terminate('test');
    const [pause, cancelAgain, watch] = await Promise.all([
      cutover('pause', 'sandbox-480'),
      cutover('cancel', 'sandbox-480'),
      cutover('watch', 'sandbox-480'),
    ]);
    assert.equal(pause.code, 1);
    assert.equal(
      pause.stderr,
      'cutover: fleet cutover-fleet-sandbox-480 already ended (TERMINATED, phase STARTING); there is nothing to pause. See `cutover fleet status cutover-fleet-sandbox-480`\n',
    );
    assert.equal(cancelAgain.code, 1);
    assert.match(cancelAgain.stderr, /already ended \(TERMINATED, phase STARTING\); there is nothing to cancel/);
    assert.equal(watch.code, 1, watch.stderr);
    assert.match(
      watch.stdout,
      /fleet cutover-fleet-sandbox-480 ended: workflow TERMINATED in phase STARTING; check `cutover fleet list sandbox-480`/,
    );
  });

  test('start prints the fleet id, its waves and groups, and the commands to follow it', async () => {
    const path = join(dir, 'nightly.yaml');
    writeFileSync(path, readFileSync(EXAMPLE, 'utf8').replace('name: sandbox-480', 'name: nightly-480'));
    const run = await cutover('start', path);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout.replace(/UI: +.*\n/, 'UI: ...\n'),
      [
        'started fleet cutover-fleet-nightly-480: 3 routing groups and the patterns team-.* to Trino 480 in 3 waves, on failure halt',
        '  the worker resolves the patterns from the gateway: its waves may hold more groups than these, which hold the listed groups only (--gateway resolves them here)',
        '  wave 1 canary-groups (1 at a time): 1 group',
        '    adhoc: blue-green -> adhoc-480 (Trino 480), from groups[0]',
        '  wave 2 quarter (2 at a time, soak 1m after): 1 group',
        '    etl: blue-green -> etl-green (Trino 480), from groups[1]',
        '  wave 3 rest (approval first, 3 at a time): 1 group',
        '    bi: canary -> bi-480 (Trino 480), from groups[2]',
        '  UI: ...',
        '  watch:   cutover fleet watch nightly-480',
        '  status:  cutover fleet status nightly-480',
        "  groups:  cutover fleet list nightly-480   (each group's upgrade, cutover-<group>)",
        '  approve: cutover fleet approve nightly-480   (before each wave with approval first)',
        '  stop:    cutover fleet cancel nightly-480   (running groups roll back, no new group starts)',
        '',
      ].join('\n'),
    );
    const description = await env.client.workflow.getHandle('cutover-fleet-nightly-480').describe();
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.typedSearchAttributes.get(CutoverFleet), 'nightly-480');
  });
});

test('fleet verbs refuse bad usage before connecting: a bad fleet name, rollback without --reason', async () => {
  const [badName, noReason, noFleet] = await Promise.all([
    runCli(UNREACHABLE_TEMPORAL, ['fleet', 'list', "x' OR 1=1"]),
    runCli(UNREACHABLE_TEMPORAL, ['fleet', 'rollback', 'sandbox-480']),
    runCli(UNREACHABLE_TEMPORAL, ['fleet', 'status']),
  ]);
  assert.equal(badName.code, 2, badName.stderr);
  assert.match(badName.stderr, /is not a fleet's name or id/);
  assert.equal(noReason.code, 2);
  assert.match(noReason.stderr, /--reason/);
  assert.equal(noFleet.code, 2);
  assert.match(noFleet.stderr, /missing required argument 'fleet'/);
  for (const run of [badName, noReason, noFleet]) assert.doesNotMatch(run.stderr, /cannot reach Temporal/);
});
