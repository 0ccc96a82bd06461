import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, printJson, reportError } from './output';

const EXAMPLES = `
Examples:
  $ cutover dev                                      # local Temporal (UI :8233), sandbox fleet and worker
  $ cutover validate plans/sandbox-blue-green.yaml --gateway   # check plan, policy and gateway; start nothing
  $ cutover start plans/sandbox-blue-green.yaml      # validate the plan, start the upgrade
  $ cutover watch cutover-adhoc                      # follow it live
  $ cutover status cutover-adhoc                     # phase, traffic, green's address for testing
  $ cutover approve cutover-adhoc --comment "smoke tests pass"
  $ cutover rollback cutover-adhoc --reason "p99 latency doubled"
  $ cutover list --all --group adhoc
  $ cutover fleet validate plans/sandbox-fleet.yaml --gateway   # a fleet's waves and every group's plan
  $ cutover fleet start plans/sandbox-fleet.yaml && cutover fleet watch sandbox-480

Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS and profiles
(@temporalio/envconfig). Links to the Temporal UI: TEMPORAL_UI_URL (found without it only for a
Temporal on this machine whose UI is at its port + 1000). Every command takes --json.
Exit codes: 0 success, 1 refused or failed action, 2 bad usage or invalid plan.`;

function packageVersion(): string {
  // src/client and dist/client both sit two levels below package.json.
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? '0.0.0';
}

/** The `cutover` program: one subcommand per verb; usage errors throw instead of exiting. */
export function buildProgram(options: { json?: boolean } = {}): Command {
  const program = new Command('cutover')
    .description(
      'durable, zero-downtime blue/green upgrades of Trino clusters behind Trino Gateway, run as Temporal workflows',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .configureOutput({
      // Machine output stays machine-readable even for usage errors.
      outputError: (message, write) =>
        options.json ? printJson({ error: message.trim().replace(/^error: /, '') }) : write(message),
    })
    .showHelpAfterError(options.json ? false : '(add --help for usage)')
    .addHelpText('after', EXAMPLES);
  return program;
}

type Register = (program: Command) => void;

/** Every verb, in help order; each module is loaded only when its verb runs (or for help). */
// require() rather than import(): it works the same under tsx's CommonJS hook (bin/cutover.js) and in dist/.
const VERBS: Record<string, () => Register> = {
  start: () => (require('./commands/start') as typeof import('./commands/start')).registerStart,
  validate: () => (require('./commands/validate') as typeof import('./commands/validate')).registerValidate,
  status: () => (require('./commands/status') as typeof import('./commands/status')).registerStatus,
  watch: () => (require('./commands/watch') as typeof import('./commands/watch')).registerWatch,
  approve: () => (require('./commands/approve') as typeof import('./commands/approve')).registerApprove,
  rollback: () => (require('./commands/rollback') as typeof import('./commands/rollback')).registerRollback,
  promote: () => (require('./commands/promote') as typeof import('./commands/promote')).registerPromote,
  pause: () => (require('./commands/pause') as typeof import('./commands/pause')).registerPause,
  resume: () => (require('./commands/resume') as typeof import('./commands/resume')).registerResume,
  fleet: () => (require('./commands/fleet') as typeof import('./commands/fleet')).registerFleet,
  list: () => (require('./commands/list') as typeof import('./commands/list')).registerList,
  worker: () => (require('./commands/worker') as typeof import('./commands/worker')).registerWorker,
  sandbox: () => (require('./commands/sandbox') as typeof import('./commands/sandbox')).registerSandbox,
  dev: () => (require('./commands/dev') as typeof import('./commands/dev')).registerDev,
  demo: () => (require('./commands/demo') as typeof import('./commands/demo')).registerDemo,
};

/**
 * Registers the verb named on the command line, or every verb for help and unknown words:
 * the worker, sandbox and dev-server modules cost most of a second to load, and `cutover
 * approve` should not pay for them.
 */
export function registerVerbs(program: Command, args: string[]): Command {
  const verb = args.find((arg) => !arg.startsWith('-'));
  const names = verb !== undefined && Object.hasOwn(VERBS, verb) ? [verb] : Object.keys(VERBS);
  for (const name of names) VERBS[name]()(program);
  return program;
}

/** Parses argv and runs the verb; the exit code lands in `process.exitCode`. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const json = argv.includes('--json');
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // `cutover list | head`: a reader that stops early is not a failure of the command.
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw error;
  });
  try {
    const program = registerVerbs(buildProgram({ json }), argv.slice(2));
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end parsing with code 0; everything else commander rejects is bad usage.
      process.exitCode =
        error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(error, json);
  }
}

if (require.main === module) void main();
