/** Command-line flags of `npm run bench`. */

export const SECTIONS = [
  'overhead',
  'rollback',
  'history',
  'scale',
  'analysis',
  'selectors',
  'shadow',
  'fleet',
] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  only: Section[];
  /** Upgrades of the overhead row (median over these). */
  overheadRuns: number;
  /** Runs of each rollback variant. */
  rollbackRuns: number;
  /** Bake/drain lengths of the history row, in seconds. */
  historyWaits: number[];
  /** Concurrent upgrades of the scale row. */
  scale: number[];
  /** Healthy canaries of the analysis row, and as many regressed ones. */
  analysisRuns: number;
}

const USAGE = `usage: npm run bench -- [--only overhead,rollback,history,scale,analysis,selectors,shadow,fleet] [--runs 5] [--rollback-runs 3]
                      [--history 5,30,120] [--scale 10,100,500] [--analysis-runs 20]`;

function numbers(flag: string, value: string | undefined): number[] {
  const list = (value ?? '').split(',').filter(Boolean).map(Number);
  if (!list.length || list.some((n) => !Number.isFinite(n) || n <= 0))
    throw new Error(`${flag} takes positive numbers separated by commas\n${USAGE}`);
  return list;
}

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = {
    only: [...SECTIONS],
    overheadRuns: 5,
    rollbackRuns: 3,
    historyWaits: [5, 30, 120],
    scale: [10, 100, 500],
    analysisRuns: 20,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case '--only': {
        const only = (value ?? '').split(',').filter(Boolean);
        const unknown = only.filter((name) => !(SECTIONS as readonly string[]).includes(name));
        if (!only.length || unknown.length)
          throw new Error(
            `--only takes ${SECTIONS.join(',')}${unknown.length ? ` (not: ${unknown.join(', ')})` : ''}\n${USAGE}`,
          );
        args.only = only as Section[];
        i++;
        break;
      }
      case '--runs':
        args.overheadRuns = numbers(flag, value)[0];
        i++;
        break;
      case '--rollback-runs':
        args.rollbackRuns = numbers(flag, value)[0];
        i++;
        break;
      case '--history':
        args.historyWaits = numbers(flag, value);
        i++;
        break;
      case '--scale':
        args.scale = numbers(flag, value);
        i++;
        break;
      case '--analysis-runs':
        args.analysisRuns = numbers(flag, value)[0];
        i++;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      // falls through (unreachable)
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  return args;
}
