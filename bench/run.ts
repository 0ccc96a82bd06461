import { cpus } from 'node:os';
/**
 * `npm run bench`: figures for cutover's orchestration on a real Temporal dev server, a real
 * `cutover worker` process and the sandbox fleet (all on 127.0.0.1). Not a test; not part of CI.
 * Figures go to stdout, progress to stderr. See docs/benchmark.md.
 */
import { analysisBench } from './analysis';
import { parseArgs, type Section } from './args';
import { fleetBench } from './fleet';
import { historySize } from './history-size';
import { overhead } from './overhead';
import { out, table, type Row } from './report';
import { rollback } from './rollback';
import { scale } from './scale';
import { selectorsBench } from './selectors';
import { shadowBench } from './shadow';
import { progress, Stack } from './stack';

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const stack = await Stack.start();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    progress(`${signal}: stopping everything`);
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  const sections: Record<Section, () => Promise<Row[]>> = {
    overhead: () => overhead(stack, args.overheadRuns),
    rollback: () => rollback(stack, args.rollbackRuns),
    history: () => historySize(stack, args.historyWaits),
    scale: () => scale(stack, args.scale),
    analysis: () => analysisBench(stack, args.analysisRuns),
    selectors: () => selectorsBench(stack),
    shadow: () => shadowBench(stack),
    fleet: () => fleetBench(stack),
  };
  try {
    out(`# cutover bench (${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores)`);
    out();
    for (const section of args.only) {
      if (section !== 'scale' && section !== 'analysis' && section !== 'selectors' && !stack.worker)
        await stack.startWorker();
      progress(`== ${section}`);
      try {
        rows.push(...(await sections[section]()));
      } catch (error) {
        progress(`${section} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (stack.worker) progress(`worker log tail:\n${stack.worker.logTail()}`);
        rows.push({
          row: `${section}: did not complete`,
          measured: 'error',
          target: '-',
          met: false,
          note: (error as Error).message,
        });
        await stack.terminateOpen();
      }
      await stack.stopFleets();
      if (section === 'scale') await stack.stopWorker();
    }
  } finally {
    progress('stopping the worker, the fleets and the dev server');
    await stack.stop();
  }
  out('## Summary');
  out(
    table(
      ['row', 'measured', 'target', 'met'],
      rows.map((r) => [
        r.row,
        r.measured,
        r.target,
        r.met === undefined ? 'n/a (informational)' : r.met ? 'yes' : 'NO',
      ]),
    ),
  );
  const notes = rows.filter((r) => r.note);
  if (notes.length) {
    out();
    for (const r of notes) out(`- ${r.row}: ${r.met === false ? 'MISSED: ' : ''}${r.note}`);
  }
  out();
  out(`bench took ${((Date.now() - started) / 60_000).toFixed(1)} min`);
  return rows.some((r) => r.met === false) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    process.exit(2);
  },
);
