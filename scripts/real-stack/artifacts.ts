import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { progress } from './processes';

const run = promisify(execFile);

/** Versions of the real stack; overridable for trying other releases. */
export const REAL_STACK_VERSIONS = {
  /** Trino Gateway release (Maven io.trino.gateway:gateway-ha, jar-with-dependencies). */
  gateway: process.env.CUTOVER_REAL_GATEWAY_VERSION ?? '20',
  /**
   * Blue and green Trino releases. Maven Central holds only a few server tarballs (trino-server
   * 470 and 476, trino-server-core 476 as of this writing); blue takes the full 470 tarball
   * (without its connectors, which the test does not need), green the smaller core 476.
   */
  blue: process.env.CUTOVER_REAL_BLUE_TRINO ?? 'io.trino:trino-server:470',
  green: process.env.CUTOVER_REAL_GREEN_TRINO ?? 'io.trino:trino-server-core:476',
};

/** Java 25: Trino Gateway 17+ and Trino 476 (and 479+) need it. */
export function java25Home(): string {
  const home = process.env.CUTOVER_JAVA25_HOME ?? '/usr/lib/jvm/temurin-25-jdk-amd64';
  if (!existsSync(join(home, 'bin', 'java'))) {
    throw new Error(`no Java 25 at ${home}: install a JDK 25 (e.g. Temurin) and set CUTOVER_JAVA25_HOME to its home`);
  }
  return home;
}

function localRepository(): string {
  return process.env.CUTOVER_M2_REPOSITORY ?? join(homedir(), '.m2', 'repository');
}

/** Where the unpacked Trino servers are kept between runs. */
export function cacheDir(): string {
  return process.env.CUTOVER_REAL_STACK_CACHE ?? join(homedir(), '.cache', 'cutover', 'real-stack');
}

/**
 * The file of a Maven artifact `group:artifact:version:packaging[:classifier]` in the local
 * repository, fetched with `mvn dependency:get` when it is not there yet.
 */
export async function mavenArtifact(coordinates: string): Promise<string> {
  const [group, artifact, version, packaging, classifier] = coordinates.split(':');
  const file = join(
    localRepository(),
    ...group.split('.'),
    artifact,
    version,
    `${artifact}-${version}${classifier ? `-${classifier}` : ''}.${packaging}`,
  );
  if (existsSync(file)) return file;
  progress(`fetching ${coordinates} with Maven (once; cached in ${localRepository()})`);
  const started = Date.now();
  try {
    const repository = process.env.CUTOVER_M2_REPOSITORY
      ? [`-Dmaven.repo.local=${process.env.CUTOVER_M2_REPOSITORY}`]
      : [];
    await run('mvn', ['-B', '-q', ...repository, 'dependency:get', `-Dartifact=${coordinates}`, '-Dtransitive=false'], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    throw new Error(
      `mvn dependency:get ${coordinates} failed (is Maven installed and Maven Central reachable? is that version published?):\n${output.slice(-2000)}`,
    );
  }
  if (!existsSync(file)) throw new Error(`mvn dependency:get ${coordinates} succeeded but ${file} is missing`);
  progress(`fetched ${coordinates} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return file;
}

/** The gateway's jar-with-dependencies. */
export function gatewayJar(): Promise<string> {
  return mavenArtifact(`io.trino.gateway:gateway-ha:${REAL_STACK_VERSIONS.gateway}:jar:jar-with-dependencies`);
}

/** A Trino server unpacked once into the cache (bin, lib; of the plugins only TPCH), e.g. `io.trino:trino-server:470`. */
export async function trinoServer(coordinates: string): Promise<{ home: string; version: string }> {
  const [, artifact, version] = coordinates.split(':');
  const home = join(cacheDir(), `${artifact}-${version}`);
  if (!existsSync(join(home, 'bin', 'launcher'))) await unpackTrinoServer(coordinates, home);
  await addTpchPlugin(home, version);
  return { home, version };
}

/**
 * The TPCH connector of the same release (`io.trino:trino-tpch:<version>:zip`, about 22 MB) in the
 * server's `plugin/tpch`, once: the canary's analysis compares blue and green on the same TPCH queries.
 */
async function addTpchPlugin(home: string, version: string): Promise<void> {
  const plugin = join(home, 'plugin', 'tpch');
  if (existsSync(plugin)) return;
  const zip = await mavenArtifact(`io.trino:trino-tpch:${version}:zip`);
  const partial = `${plugin}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  await run('unzip', ['-q', zip, '-d', partial]);
  renameSync(join(partial, `trino-tpch-${version}`), plugin);
  rmSync(partial, { recursive: true, force: true });
  progress(`added the TPCH connector ${version} to ${home}`);
}

async function unpackTrinoServer(coordinates: string, home: string): Promise<void> {
  const [, artifact, version] = coordinates.split(':');
  const tarball = await mavenArtifact(`${coordinates}:tar.gz`);
  progress(`unpacking ${artifact}-${version} into ${home} (once)`);
  const started = Date.now();
  mkdirSync(cacheDir(), { recursive: true });
  const partial = `${home}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  // Connectors are left out (they are most of the size); addTpchPlugin adds the one the tests query.
  await run('tar', ['xzf', tarball, '-C', partial, '--strip-components=1', '--exclude=*/plugin/*']);
  mkdirSync(join(partial, 'plugin'), { recursive: true });
  rmSync(home, { recursive: true, force: true });
  renameSync(partial, home);
  progress(`unpacked ${artifact}-${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
