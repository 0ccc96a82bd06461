import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { startUpgrade } from '../src/client/upgrades';
import { startDevServer } from '../src/devserver/dev-server';
import { until, waitForPhase } from '../src/devserver/wait';
import { validatePlan } from '../src/plan/load';
import { runCli, type CliRun } from './support/cli';
import { fastPlan } from './support/plans';
import { workflowBundle } from './support/temporal';
import { useTestbed } from './support/testbed';

/**
 * What an operator reads in `cutover start`, `status` and the Temporal UI is true and plain, checked
 * on real runs: the retire says what a static provisioner leaves running, the health line shows the
 * bake's own check, counts are in the right number, a run no worker polls says so at once, and
 * UI links point at a UI that shows the run, or say how to get one.
 */
describe('what an operator reads', () => {
  const testbed = useTestbed();
  const cutover = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> =>
    runCli(testbed.env.address, args, { TEMPORAL_UI_URL: undefined, ...env });

  it('static provisioner: the retire says blue keeps running; the bake shows its own checks; after the run nothing invites testing', async () => {
    const group = 'statictext';
    const fleet = await testbed.fleetWithBlue(group);
    const { cluster: green } = await fleet.createCluster({ name: `${group}-green`, version: '480' });
    const sandbox = fastPlan(fleet.gatewayUrl, group, {
      health: { smokeQueries: ['SELECT 1'], minActiveWorkers: 1 },
      approval: { required: false },
      bake: '6s',
    });
    const plan = validatePlan(
      { ...sandbox, green: { name: green.name, version: '480', url: green.url, provisioner: { type: 'static' } } },
      'static plan',
    );
    const handle = await startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
    const id = handle.workflowId;

    await waitForPhase(handle, 'BAKING', 30_000);
    // The blue/green bake is analysed (patch blue-green-bake-analysis): its check is the analysis's latest sample.
    let baking: CliRun | undefined;
    let health: string | undefined;
    await until(
      () => `a health line from the bake's analysis:\n${baking?.stdout}`,
      async () => {
        baking = await cutover(['status', id]);
        assert.equal(baking.code, 0, baking.stderr);
        health = baking.stdout.split('\n').find((line) => line.startsWith('  health:'));
        return /\(analysis sample/.test(health ?? '');
      },
      20_000,
      100,
    );
    assert.match(
      health ?? '',
      /^ {2}health: {4}HEALTHY, version 480, healthy \(analysis sample \d\d:\d\d:\d\d\)$/,
      `the health line is the bake's latest check, not the verify's:\n${baking?.stdout}`,
    );
    assert.match(baking?.stdout ?? '', /^ {2}routing: {3}sample \d\d:\d\d:\d\d \(analysis heartbeat\)/m);

    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const messages = result.status.timeline.map((entry) => entry.message);
    const blue = `${group}-blue`;
    const kept = `${blue} keeps running (the static provisioner deletes no cluster; stop it yourself once it is no longer needed)`;
    for (const expected of [
      `waiting until ${group}-green runs 480 with at least 1 active worker and passes 1 smoke query`,
      `${group}-green is ready: 1 smoke query finished`,
      `removing ${blue} from the gateway; ${kept}`,
      `removed ${blue} from the gateway; ${kept}`,
    ]) {
      assert.ok(messages.includes(expected), `timeline says "${expected}":\n${messages.join('\n')}`);
    }
    const baked = messages.find((message) => message.startsWith('bake of 6s passed'));
    assert.match(
      baked ?? '',
      /^bake of 6s passed \((1 analysis sample|([02-9]|\d\d+) analysis samples)\)$/,
      'counted right',
    );
    assert.ok(fleet.cluster(blue), 'blue still runs: the static provisioner deleted nothing');
    assert.equal(fleet.gateway.backendState(blue), undefined, 'blue left the gateway');

    const ended = await cutover(['status', id]);
    assert.equal(ended.code, 0, ended.stderr);
    assert.match(ended.stdout, new RegExp(`green: {5}${group}-green 480 at ${green.url}\\n`));
    assert.doesNotMatch(ended.stdout, /test it/, 'a finished run invites no testing');
    const details = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    assert.match(details.currentDetails, new RegExp(`\\*\\*Green address:\\*\\* ${green.url}`));
    assert.doesNotMatch(details.currentDetails, /test it/);
  });

  it('a run no worker polls any more: status says so within 3 s, and the UI link is only given where one is known', async () => {
    const taskQueue = 'cutover-gone';
    // A worker polls the task queue, then stops: the server keeps listing it as a poller for minutes.
    const worker = await Worker.create({
      connection: testbed.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
    });
    const running = worker.run();
    await until('the worker polls', async () => (await pollers(taskQueue)) > 0);
    worker.shutdown();
    await running;
    const plan = fastPlan('http://127.0.0.1:9', 'gone');
    const handle = await testbed.env.client.workflow.start('blueGreenUpgrade', {
      taskQueue,
      workflowId: 'cutover-gone',
      args: [{ plan }],
    });
    assert.ok((await pollers(taskQueue)) > 0, 'the stopped worker is still listed as a poller');

    const started = Date.now();
    const status = await cutover(['status', handle.workflowId]);
    const took = Date.now() - started;
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /^ {2}no worker is polling task queue cutover-gone: start one with `cutover worker`/m,
      status.stdout,
    );
    process.stderr.write(`status without a worker answered in ${took} ms\n`);
    assert.ok(took < 3_000, `status answered in ${took} ms`);
    assert.match(
      status.stdout,
      /UI: +no Temporal UI found for 127\.0\.0\.1:\d+; for a link, set TEMPORAL_UI_URL to the address of its UI/,
      'this dev server runs no UI: no link to one that is not there',
    );
    assert.doesNotMatch(status.stdout, /8233/);

    const json = await cutover(['status', handle.workflowId, '--json']);
    const view = JSON.parse(json.stdout) as { workerPolling: boolean; workerProblem: string; uiUrl?: string };
    assert.equal(view.workerPolling, false);
    assert.equal(view.workerProblem, 'no worker is polling task queue cutover-gone');
    assert.equal(view.uiUrl, undefined);

    const configured = await cutover(['status', handle.workflowId], {
      TEMPORAL_UI_URL: 'https://temporal.example.com/',
    });
    assert.match(
      configured.stdout,
      new RegExp(
        `UI: +https://temporal\\.example\\.com/namespaces/default/workflows/cutover-gone/${handle.firstExecutionRunId}/history`,
      ),
    );
    await handle.terminate('test done');
  });

  it('start links to the Temporal UI found beside a local Temporal (its port + 1000) once that UI shows the run', async () => {
    const port = await freePortPair();
    const env = await startDevServer({ port, uiPort: port + 1000 });
    const directory = mkdtempSync(join(tmpdir(), 'cutover-ui-'));
    try {
      const ui = `http://127.0.0.1:${port + 1000}`;
      // The UI answers before it reaches its Temporal; wait until it does.
      await until(
        'the UI reaches its Temporal',
        async () => (await fetch(`${ui}/api/v1/namespaces/default/workflows/none`)).status === 404,
        20_000,
        200,
      );
      const plan = fastPlan('http://127.0.0.1:9', 'uilink');
      const path = join(directory, 'plan.json');
      writeFileSync(path, JSON.stringify(plan));
      const start = await runCli(`127.0.0.1:${port}`, ['start', path, '--json'], { TEMPORAL_UI_URL: undefined });
      assert.equal(start.code, 0, start.stderr);
      const answer = JSON.parse(start.stdout) as { workflowId: string; runId: string; uiUrl?: string };
      assert.equal(answer.uiUrl, `${ui}/namespaces/default/workflows/cutover-uilink/${answer.runId}/history`);
      const page = await fetch(answer.uiUrl);
      assert.equal(page.status, 200, 'the link opens');
      await env.client.workflow.getHandle(answer.workflowId).terminate('test done');
    } finally {
      await env.teardown();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  /** How many workers the server lists as polling `taskQueue` for workflow tasks. */
  async function pollers(taskQueue: string): Promise<number> {
    const { pollers } = await testbed.env.client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 1,
    });
    return pollers?.length ?? 0;
  }
});

/** A free port whose port + 1000 is free too (a dev server and its UI). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await listenOn(0);
    if (port + 1000 <= 65535 && (await listenOn(port + 1000).catch(() => undefined)) !== undefined) return port;
  }
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
