import { readFileSync, writeFileSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startUpgrade } from '../src/client/upgrades';
import { startDevServer } from '../src/devserver/dev-server';
import { startWorkerProcess, type WorkerProcess } from '../src/devserver/worker-process';
import type { UpgradePlan } from '../src/plan/schema';
import { startSandboxFleet, type SandboxFleet, type SandboxFleetOptions } from '../src/sandbox/fleet';
import type { UpgradeResult } from '../src/workflows/messages';

/** Progress lines go to stderr; the figures go to stdout. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const CLOCK_TICKS_PER_SECOND = 100;

/** A `cutover worker` child process, measured through /proc. */
export class MeasuredWorker {
  private maxRssKb = 0;
  private sampler?: NodeJS.Timeout;
  private baselineTicks = 0;

  private constructor(private readonly worker: WorkerProcess) {}

  /** Starts `cutover worker` (default log level info, as an operator runs it) and waits until it logs that it polls. */
  static async start(address: string): Promise<MeasuredWorker> {
    const worker = startWorkerProcess(address);
    await worker.ready;
    return new MeasuredWorker(worker);
  }

  get pid(): number {
    return this.worker.child.pid!;
  }

  /** CPU seconds (user + system, all threads) since `resetCounters`. */
  cpuSeconds(): number {
    return (this.ticks() - this.baselineTicks) / CLOCK_TICKS_PER_SECOND;
  }

  /** Peak RSS in MiB since `resetCounters` (kernel VmHWM, cross-checked with our own samples). */
  peakRssMiB(): number {
    const hwm = this.statusKb('VmHWM');
    return Math.max(hwm, this.maxRssKb) / 1024;
  }

  /** Starts measuring from now: CPU baseline, peak RSS reset (clear_refs 5), RSS sampling every 250 ms. */
  resetCounters(): void {
    this.baselineTicks = this.ticks();
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      // Older kernels: our own samples still give the peak.
    }
    this.maxRssKb = this.statusKb('VmRSS');
    clearInterval(this.sampler);
    this.sampler = setInterval(() => {
      this.maxRssKb = Math.max(this.maxRssKb, this.statusKb('VmRSS'));
    }, 250);
    this.sampler.unref();
  }

  private ticks(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      return this.baselineTicks;
    }
  }

  private statusKb(key: string): number {
    try {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  logTail(): string {
    return this.worker.output().slice(-3000);
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    await this.worker.kill('SIGTERM', 20_000);
  }
}

type Handle = WorkflowHandle & { firstExecutionRunId?: string };

/**
 * Everything the bench starts, stopped at the end (also on failure): one Temporal dev server,
 * the worker process of the moment, sandbox fleets, and the workflows still open.
 */
export class Stack {
  private fleets: SandboxFleet[] = [];
  private readonly open = new Set<string>();
  worker?: MeasuredWorker;
  private workflowCount = 0;

  private constructor(readonly env: TestWorkflowEnvironment) {}

  static async start(): Promise<Stack> {
    progress('starting the Temporal dev server (127.0.0.1, random port)');
    const env = await startDevServer({ log: (line) => progress(line) });
    return new Stack(env);
  }

  get client(): Client {
    return this.env.client;
  }

  /** A fresh `cutover worker` process (the previous one is stopped first, so one worker serves the queue). */
  async startWorker(): Promise<MeasuredWorker> {
    await this.stopWorker();
    progress('starting a `cutover worker` process (bundles the workflows: a few seconds)');
    const worker = await MeasuredWorker.start(this.env.address);
    this.worker = worker;
    return worker;
  }

  async stopWorker(): Promise<void> {
    await this.worker?.stop();
    this.worker = undefined;
  }

  async fleet(options: SandboxFleetOptions): Promise<SandboxFleet> {
    const fleet = await startSandboxFleet(options);
    this.fleets.push(fleet);
    return fleet;
  }

  async stopFleets(): Promise<void> {
    const fleets = this.fleets;
    this.fleets = [];
    await Promise.all(fleets.map((fleet) => fleet.stop().catch(() => undefined)));
  }

  /** A routing group name not used before in this bench (workflow ids are `cutover-<group>`). */
  group(prefix: string): string {
    this.workflowCount += 1;
    return `${prefix}${this.workflowCount}`;
  }

  async start(plan: UpgradePlan): Promise<Handle> {
    const handle = await startUpgrade(this.client, plan, { startedBy: 'bench' });
    this.open.add(handle.workflowId);
    return handle;
  }

  /** Waits for the result; an upgrade that ended is no longer terminated at cleanup. */
  async result(handle: Handle): Promise<UpgradeResult> {
    try {
      return (await handle.result()) as UpgradeResult;
    } finally {
      this.open.delete(handle.workflowId);
    }
  }

  /** Terminates the upgrades a failed section left open. */
  async terminateOpen(): Promise<void> {
    const ids = [...this.open];
    this.open.clear();
    await Promise.all(
      ids.map((id) =>
        this.client.workflow
          .getHandle(id)
          .terminate('bench cleanup')
          .catch(() => undefined),
      ),
    );
  }

  async stop(): Promise<void> {
    await this.terminateOpen().catch(() => undefined);
    await this.stopWorker().catch(() => undefined);
    await this.stopFleets();
    await this.env.teardown().catch(() => undefined);
  }
}
