/**
 * Structural check of docker-compose.yml, for machines without a Docker engine (CI has none):
 *
 *   npx tsx scripts/check-compose.ts [path/to/docker-compose.yml]
 *
 * Checks that every service has an image (pinned to a tag or digest, never `latest`) or a build,
 * that every depends_on target exists with a condition it can meet, that every locally mounted
 * file (bind mounts, build context, env files, file secrets/configs) exists inside the repository,
 * that every published port binds 127.0.0.1, that named volumes and secrets are declared, and that
 * no password or token is written inline. Exits 1 with one line per problem.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parseDocument } from 'yaml';

export interface ComposeCheckResult {
  /** Service names in file order (empty when the file could not be read). */
  services: string[];
  /** One human-readable line per problem, `location: what is wrong and how to fix it`. */
  problems: string[];
}

export interface ComposeCheckOptions {
  /** Directory every mounted local path must lie in; defaults to the compose file's directory. */
  repoRoot?: string;
}

type YamlMap = Record<string, unknown>;

const TOP_LEVEL_KEYS = new Set(['name', 'services', 'networks', 'volumes', 'secrets', 'configs', 'include', 'models']);
const DEPENDS_ON_CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
const LOOPBACK = '127.0.0.1';
/** Environment keys that hold a secret value (a `_FILE` variant names a file instead). */
const SECRET_KEY = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS?)$/i;
/** A value that is only a reference to the caller's environment, with no default: `${X}`, `${X:?msg}`, `${X?msg}`. */
const PURE_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$/;

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the compose file at `composePath`; never throws for a bad file, only reports. */
export function checkCompose(composePath: string, options: ComposeCheckOptions = {}): ComposeCheckResult {
  const file = resolve(composePath);
  const baseDir = dirname(file);
  const repoRoot = resolve(options.repoRoot ?? baseDir);
  const problems: string[] = [];
  const problem = (where: string, what: string): void => {
    problems.push(`${where}: ${what}`);
  };

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      services: [],
      problems: [`${composePath}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`],
    };
  }
  const document = parseDocument(text, { merge: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return { services: [], problems: document.errors.map((error) => `YAML: ${error.message.split('\n')[0]}`) };
  }
  const root: unknown = document.toJS({ maxAliasCount: 100 });
  if (!isMap(root)) return { services: [], problems: ['(root): must be a mapping with a `services:` key'] };

  for (const key of Object.keys(root)) {
    if (key === 'version') problem('version', 'obsolete: the Compose specification has no `version:` key; remove it');
    else if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-'))
      problem(key, `unknown top-level key (expected one of ${[...TOP_LEVEL_KEYS].join(', ')} or x-*)`);
  }

  const services = isMap(root.services) ? root.services : undefined;
  if (!services || Object.keys(services).length === 0) {
    problem('services', 'must be a mapping with at least one service');
    return { services: [], problems };
  }
  const declaredVolumes = new Set(isMap(root.volumes) ? Object.keys(root.volumes) : []);
  const declaredSecrets = new Set(isMap(root.secrets) ? Object.keys(root.secrets) : []);
  const declaredConfigs = new Set(isMap(root.configs) ? Object.keys(root.configs) : []);

  /** Reports a local path that is interpolated, outside the repository, or missing; returns its absolute form when fine. */
  const checkLocalPath = (
    where: string,
    path: string,
    from: string,
    kind: 'file' | 'directory' | 'any',
  ): string | undefined => {
    if (path.includes('$')) {
      problem(
        where,
        `${path}: uses interpolation, so the file cannot be checked; use a path relative to the compose file`,
      );
      return undefined;
    }
    if (path.startsWith('~')) {
      problem(
        where,
        `${path}: a home-directory path is not part of the repository; use a path relative to the compose file`,
      );
      return undefined;
    }
    const absolute = isAbsolute(path) ? path : resolve(from, path);
    const inRepo = relative(repoRoot, absolute);
    if (inRepo.startsWith('..') || isAbsolute(inRepo)) {
      problem(where, `${path}: lies outside the repository (${repoRoot}); mount only files the repository ships`);
      return undefined;
    }
    if (!existsSync(absolute)) {
      problem(where, `${path}: does not exist in the repository`);
      return undefined;
    }
    const stats = statSync(absolute);
    if (kind === 'file' && !stats.isFile()) problem(where, `${path}: must be a file`);
    if (kind === 'directory' && !stats.isDirectory()) problem(where, `${path}: must be a directory`);
    return absolute;
  };

  const checkImage = (where: string, image: unknown): void => {
    if (typeof image !== 'string' || image.trim() === '') {
      problem(where, 'must be an image reference such as postgres:16');
      return;
    }
    if (image.includes('@sha256:')) return;
    const lastSegment = image.slice(image.lastIndexOf('/') + 1);
    const colon = lastSegment.lastIndexOf(':');
    if (colon < 0) problem(where, `${image} has no tag: pin a release (e.g. ${image}:<version>), never rely on latest`);
    else if (lastSegment.slice(colon + 1) === 'latest') problem(where, `${image}: pin a release tag instead of latest`);
  };

  const hasHealthcheck = (service: unknown): boolean => {
    if (!isMap(service) || !isMap(service.healthcheck)) return false;
    const check = service.healthcheck;
    if (check.disable === true) return false;
    return !(Array.isArray(check.test) && check.test[0] === 'NONE');
  };

  const dependencies = new Map<string, string[]>();

  for (const [name, service] of Object.entries(services)) {
    const at = `services.${name}`;
    if (!isMap(service)) {
      problem(at, 'must be a mapping');
      continue;
    }

    // image / build
    if (service.image === undefined && service.build === undefined) problem(at, 'needs an `image:` or a `build:`');
    if (service.image !== undefined) checkImage(`${at}.image`, service.image);
    if (service.build !== undefined) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      if (!isMap(build)) problem(`${at}.build`, 'must be a path or a mapping with `context:`');
      else {
        const contextPath = typeof build.context === 'string' ? build.context : '.';
        const context = checkLocalPath(`${at}.build.context`, contextPath, baseDir, 'directory');
        if (context && build.dockerfile_inline === undefined) {
          const dockerfile = typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile';
          checkLocalPath(`${at}.build.dockerfile`, dockerfile, context, 'file');
        }
      }
    }

    // depends_on
    const targets: string[] = [];
    const dependsOn = service.depends_on;
    const entries: Array<[string, unknown]> = Array.isArray(dependsOn)
      ? dependsOn.map((target) => [String(target), undefined])
      : isMap(dependsOn)
        ? Object.entries(dependsOn)
        : [];
    if (dependsOn !== undefined && !Array.isArray(dependsOn) && !isMap(dependsOn)) {
      problem(`${at}.depends_on`, 'must be a list of service names or a mapping of name to {condition}');
    }
    for (const [target, spec] of entries) {
      const where = `${at}.depends_on.${target}`;
      targets.push(target);
      if (target === name) problem(where, 'a service cannot depend on itself');
      const targetService = services[target];
      if (targetService === undefined) {
        problem(where, `no service named ${target} in this file`);
        continue;
      }
      const condition = isMap(spec) ? spec.condition : undefined;
      if (condition === undefined) continue;
      if (typeof condition !== 'string' || !DEPENDS_ON_CONDITIONS.has(condition)) {
        problem(where, `condition must be one of ${[...DEPENDS_ON_CONDITIONS].join(', ')}`);
      } else if (condition === 'service_healthy' && !hasHealthcheck(targetService)) {
        problem(
          where,
          `service_healthy, but ${target} has no healthcheck: add one (a block with only timings keeps the image's own test)`,
        );
      } else if (condition === 'service_completed_successfully' && isMap(targetService)) {
        const restart = targetService.restart;
        if (restart === 'always' || restart === 'unless-stopped') {
          problem(
            where,
            `service_completed_successfully, but ${target} restarts (${restart}) and so never completes; give it restart: "no"`,
          );
        }
      }
    }
    dependencies.set(name, targets);

    // volumes
    const volumes = service.volumes;
    if (volumes !== undefined && !Array.isArray(volumes)) problem(`${at}.volumes`, 'must be a list');
    (Array.isArray(volumes) ? volumes : []).forEach((volume, index) => {
      const where = `${at}.volumes[${index}]`;
      let type: string;
      let source: string | undefined;
      if (typeof volume === 'string') {
        const parts = volume.split(':');
        source = parts.length >= 2 ? parts[0] : undefined;
        type = source !== undefined && /^[.~/$]/.test(source) ? 'bind' : 'volume';
      } else if (isMap(volume)) {
        type = typeof volume.type === 'string' ? volume.type : 'volume';
        source = typeof volume.source === 'string' ? volume.source : undefined;
      } else {
        problem(where, 'must be "source:target[:mode]" or a mapping');
        return;
      }
      if (type === 'bind') {
        if (source === undefined) problem(where, 'a bind mount needs a source');
        else checkLocalPath(where, source, baseDir, 'any');
      } else if (type === 'volume' && source !== undefined && !declaredVolumes.has(source)) {
        problem(where, `named volume ${source} is not declared under the top-level volumes:`);
      }
    });

    // env_file
    const envFiles =
      service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
    envFiles.forEach((entry, index) => {
      const where = `${at}.env_file[${index}]`;
      const path =
        typeof entry === 'string' ? entry : isMap(entry) && typeof entry.path === 'string' ? entry.path : undefined;
      if (path === undefined) problem(where, 'must be a path or {path, required}');
      else if (!(isMap(entry) && entry.required === false)) checkLocalPath(where, path, baseDir, 'file');
    });

    // secrets / configs references
    for (const [key, declared] of [
      ['secrets', declaredSecrets],
      ['configs', declaredConfigs],
    ] as const) {
      const list = service[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        problem(`${at}.${key}`, 'must be a list');
        continue;
      }
      list.forEach((entry, index) => {
        const source = typeof entry === 'string' ? entry : isMap(entry) ? entry.source : undefined;
        if (typeof source !== 'string') problem(`${at}.${key}[${index}]`, 'must name a top-level entry');
        else if (!declared.has(source))
          problem(`${at}.${key}[${index}]`, `${source} is not declared under the top-level ${key}:`);
      });
    }

    // ports
    if (service.network_mode === 'host')
      problem(
        `${at}.network_mode`,
        'host networking publishes every port on every interface; publish ports on 127.0.0.1 instead',
      );
    const ports = service.ports;
    if (ports !== undefined && !Array.isArray(ports)) problem(`${at}.ports`, 'must be a list');
    (Array.isArray(ports) ? ports : []).forEach((port, index) => {
      const where = `${at}.ports[${index}]`;
      const hostIp = isMap(port) ? port.host_ip : typeof port === 'string' ? hostIpOf(port) : undefined;
      if (hostIp !== LOOPBACK) {
        problem(
          where,
          `${JSON.stringify(port)} publishes on ${hostIp === undefined ? 'every interface' : typeof hostIp === 'string' ? hostIp : JSON.stringify(hostIp)}; bind it to ${LOOPBACK} ("${LOOPBACK}:HOST:CONTAINER")`,
        );
      }
    });

    // inline secrets
    const environment = service.environment;
    const variables: Array<[string, unknown]> = Array.isArray(environment)
      ? environment.map((item) => {
          const text = String(item);
          const equals = text.indexOf('=');
          return equals < 0 ? [text, undefined] : [text.slice(0, equals), text.slice(equals + 1)];
        })
      : isMap(environment)
        ? Object.entries(environment)
        : [];
    for (const [key, value] of variables) {
      if (!SECRET_KEY.test(key) || /_FILE$/i.test(key)) continue;
      if (value === undefined || value === null || value === '') continue;
      if (typeof value === 'string' && PURE_REFERENCE.test(value.trim())) continue;
      problem(
        `${at}.environment.${key}`,
        'holds a secret inline: use a Compose secret (and a _FILE variable) or ${VAR:?message} from the environment',
      );
    }
  }

  // depends_on cycles
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      problem(`services.${name}.depends_on`, `cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const target of dependencies.get(name) ?? []) if (dependencies.has(target)) visit(target, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of dependencies.keys()) visit(name, []);

  // top-level secrets and configs read from files
  for (const key of ['secrets', 'configs'] as const) {
    const section = root[key];
    if (!isMap(section)) continue;
    for (const [name, spec] of Object.entries(section)) {
      if (isMap(spec) && typeof spec.file === 'string')
        checkLocalPath(`${key}.${name}.file`, spec.file, baseDir, 'file');
    }
  }

  return { services: Object.keys(services), problems };
}

/** The host address of a short-syntax port ("127.0.0.1:8080:80/tcp", "[::1]:8080:80"), undefined when none is given. */
function hostIpOf(port: string): string | undefined {
  const spec = port.split('/')[0];
  if (spec.startsWith('[')) {
    const end = spec.indexOf(']');
    return end < 0 ? spec : spec.slice(1, end);
  }
  const parts = spec.split(':');
  return parts.length === 3 ? parts[0] : undefined;
}

function main(argv: string[]): number {
  const path = argv[0] ?? resolve(__dirname, '..', 'docker-compose.yml');
  const shown = relative(process.cwd(), path) || path;
  const { services, problems } = checkCompose(path);
  if (problems.length > 0) {
    for (const line of problems) console.error(`${shown}: ${line}`);
    console.error(`${shown}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    return 1;
  }
  console.log(`${shown}: OK (${services.length} services: ${services.join(', ')})`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
