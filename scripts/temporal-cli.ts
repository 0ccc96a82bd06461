/** Prints the path of a Temporal CLI, building it once into the per-user cache when none is found. */
import { ensureTemporalCli } from '../src/devserver/temporal-cli';

const quiet = process.argv.includes('--quiet');
ensureTemporalCli().then(
  (cli) => {
    if (!quiet) console.log(cli.path);
    else process.stderr.write(`temporal CLI: ${cli.path} (${cli.source})\n`);
  },
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
