import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { checkCompose } from '../scripts/check-compose';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../src/workflows/search-attributes';

const ROOT = resolve(__dirname, '..');
const COMPOSE = join(ROOT, 'docker-compose.yml');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Service = Record<string, unknown> & {
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  command?: string[];
  secrets?: string[];
};
const compose = parse(read('docker-compose.yml')) as {
  services: Record<string, Service>;
  secrets: Record<string, unknown>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  test('passes the structural check', () => {
    const result = checkCompose(COMPOSE);
    assert.deepEqual(result.problems, []);
  });

  test('has the services of the production-like stack', () => {
    for (const name of [
      'postgresql',
      'temporal',
      'temporal-setup',
      'temporal-ui',
      'gateway-db',
      'trino-gateway',
      'trino-blue',
      'trino-green',
      'cutover-worker',
    ]) {
      assert.ok(services[name], `service ${name} is missing`);
    }
    assert.equal('version' in compose, false);
  });

  test('runs two different Trino releases and the worker from this repository', () => {
    const blue = services['trino-blue'].image;
    const green = services['trino-green'].image;
    assert.match(blue ?? '', /^trinodb\/trino:\d+$/);
    assert.match(green ?? '', /^trinodb\/trino:\d+$/);
    assert.notEqual(blue, green);
    const worker = services['cutover-worker'];
    assert.deepEqual(worker.build, { context: '.', dockerfile: 'Dockerfile' });
    assert.equal(worker.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
    assert.equal(worker.environment?.CUTOVER_GATEWAY_PASSWORD, undefined, 'the password must come from a secret file');
    assert.equal(worker.environment?.CUTOVER_GATEWAY_PASSWORD_FILE, '/run/secrets/cutover_gateway_password');
    assert.match(read('Dockerfile'), /CMD \["node", "dist\/client\/cli\.js", "worker"\]/);
    assert.match(read('Dockerfile'), /^USER node$/m);
  });

  test('publishes the documented ports on 127.0.0.1 only', () => {
    const published = Object.fromEntries(
      Object.entries(services)
        .filter(([, s]) => s.ports)
        .map(([name, s]) => [name, s.ports]),
    );
    assert.deepEqual(published, {
      temporal: ['127.0.0.1:7233:7233'],
      'temporal-ui': ['127.0.0.1:8233:8080'],
      'trino-gateway': ['127.0.0.1:8080:8080'],
      'trino-blue': ['127.0.0.1:8081:8080'],
      'trino-green': ['127.0.0.1:8082:8080'],
    });
  });

  test('gives the gateway every variable its config references', () => {
    const config = read('deploy/gateway/config.yaml');
    const referenced = [...config.matchAll(/\$\{ENV:([a-zA-Z][a-zA-Z0-9_-]*)\}/g)].map((match) => match[1]);
    assert.ok(referenced.length >= 4);
    const gateway = services['trino-gateway'];
    const exported =
      (gateway.command ?? [])
        .join('\n')
        .match(/^export (.+)$/m)?.[1]
        .split(/\s+/) ?? [];
    for (const name of referenced) {
      assert.ok(
        name in (gateway.environment ?? {}) || exported.includes(name),
        `${name} reaches the gateway neither as environment nor as an exported secret`,
      );
    }
    assert.ok(gateway.volumes?.includes('./deploy/gateway/config.yaml:/etc/trino-gateway/config.yaml:ro'));
  });
});

describe('deploy/gateway', () => {
  test('config.yaml sets what cutover relies on', () => {
    const config = parse(read('deploy/gateway/config.yaml')) as Record<string, any>;
    assert.equal(config.serverConfig['http-server.http.port'], 8080);
    assert.equal(config.dataStore.driver, 'org.postgresql.Driver');
    assert.equal(config.clusterStatsConfiguration.monitorType, 'INFO_API');
    assert.equal(config.monitor.taskDelay, '5s');
    assert.deepEqual(
      { ...config.routingRules, rulesConfigPath: undefined },
      { rulesEngineEnabled: true, rulesType: 'FILE', rulesConfigPath: undefined, rulesRefreshPeriod: '5s' },
    );
    assert.equal(config.includeClusterHostInResponse, true);
    assert.equal(config.authentication.defaultType, 'form');
    const cutoverUser = config.presetUsers['${ENV:CUTOVER_GATEWAY_USER}'];
    for (const role of ['admin', 'api'] as const) {
      assert.match(
        cutoverUser.privileges,
        new RegExp(`^${config.authorization[role]}$`),
        `the cutover user lacks the ${role} role`,
      );
    }
  });

  test('routing rules keep the canary rule in the exact shape cutover rewrites', () => {
    const rules = parseAllDocuments(read('deploy/gateway/routing-rules.yaml')).map((document) =>
      document.toJS(),
    ) as Array<Record<string, any>>;
    const canary = rules.find((rule) => rule.name === 'cutover-canary-adhoc');
    assert.ok(canary);
    assert.equal(
      canary.condition,
      'request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < 0',
    );
    // Only adhoc's requests (assigned adhoc, or no group: the default group adhoc) go to adhoc's canary.
    assert.deepEqual(canary.actions, [
      'if (result.get("routingGroup") == null || "adhoc".equals(result.get("routingGroup"))) { result.put("routingGroup", "adhoc-canary") }',
    ]);
    const header = rules.find((rule) => String(rule.condition).includes('X-Trino-Routing-Group'));
    assert.ok(header);
    assert.deepEqual(header.actions, ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))']);
    assert.ok(canary.priority > header.priority, 'the canary rule runs after the rule that assigns the group');
    for (const rule of rules) assert.equal(typeof rule.priority, 'number', `${rule.name} needs an explicit priority`);
  });
});

describe('deploy/trino', () => {
  for (const cluster of ['trino-blue', 'trino-green']) {
    test(`${cluster} is a coordinator-only cluster that honours forwarded headers`, () => {
      const properties = Object.fromEntries(
        read(`deploy/trino/${cluster}/config.properties`)
          .split('\n')
          .filter((line) => line.trim() !== '' && !line.startsWith('#'))
          .map((line) => [line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim()]),
      );
      assert.equal(properties.coordinator, 'true');
      assert.equal(properties['node-scheduler.include-coordinator'], 'true');
      assert.equal(properties['http-server.process-forwarded'], 'true');
      assert.match(read(`deploy/trino/${cluster}/node.properties`), new RegExp(`^node\\.id=${cluster}-`, 'm'));
      assert.match(read(`deploy/trino/${cluster}/jvm.config`), /^-Xmx\d+[MG]$/m);
    });
  }
});

describe('search attributes', () => {
  /** The CLI's spelling of each SDK search attribute type. */
  const CLI_TYPE: Record<string, string> = {
    TEXT: 'Text',
    KEYWORD: 'Keyword',
    INT: 'Int',
    DOUBLE: 'Double',
    BOOL: 'Bool',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  const expected = CUTOVER_SEARCH_ATTRIBUTES.map((key) => ({ name: key.name, type: CLI_TYPE[key.type] }));

  test('temporal-setup registers every attribute the workflows set', () => {
    const setup = read('deploy/temporal/setup.sh');
    for (const { name, type } of expected) assert.match(setup, new RegExp(`\\b${name}:${type}\\b`));
  });

  test('docs/production.md gives the exact create command for each', () => {
    const docs = read('docs/production.md');
    for (const { name, type } of expected) {
      assert.ok(
        docs.includes(
          `temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name ${name} --type ${type}`,
        ),
        name,
      );
    }
  });
});

describe('checkCompose', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-compose-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'conf'));
  writeFileSync(join(dir, 'conf', 'present.yaml'), 'a: 1\n');

  const check = (yamlText: string): string[] => {
    const path = join(dir, `compose-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(path, yamlText);
    return checkCompose(path).problems;
  };

  test('accepts a well-formed file', () => {
    const problems = check(`
services:
  db:
    image: postgres:16
    healthcheck: { test: ["CMD", "pg_isready"] }
  init:
    image: busybox:1.36
    restart: "no"
  app:
    image: example/app:1.2.3
    depends_on:
      db: { condition: service_healthy }
      init: { condition: service_completed_successfully }
    volumes:
      - ./conf/present.yaml:/etc/app.yaml:ro
      - data:/data
    ports: ["127.0.0.1:8080:80", { target: 81, published: 8081, host_ip: 127.0.0.1 }]
    environment:
      DB_PASSWORD_FILE: /run/secrets/db
      API_TOKEN: \${API_TOKEN:?set it}
    secrets: [db]
secrets:
  db: { environment: DB_PASSWORD }
volumes:
  data:
`);
    assert.deepEqual(problems, []);
  });

  test('reports each kind of problem with its location', () => {
    const problems = check(`
version: "3.8"
services:
  noimage:
    environment: { DB_PASSWORD: hunter2 }
  floating:
    image: postgres
    depends_on: [ghost]
  latest:
    image: postgres:latest
    depends_on:
      floating: { condition: service_healthy }
    volumes:
      - ./conf/missing.yaml:/etc/missing.yaml
      - ../outside:/outside
      - undeclared:/data
    ports: ["8080:8080", "0.0.0.0:9090:9090", 7000]
    secrets: [nope]
`);
    const expectations: Array<[string, RegExp]> = [
      ['version', /obsolete/],
      ['services.noimage', /needs an `image:` or a `build:`/],
      ['services.noimage.environment.DB_PASSWORD', /secret inline/],
      ['services.floating.image', /has no tag/],
      ['services.floating.depends_on.ghost', /no service named ghost/],
      ['services.latest.image', /instead of latest/],
      ['services.latest.depends_on.floating', /has no healthcheck/],
      ['services.latest.volumes[0]', /does not exist in the repository/],
      ['services.latest.volumes[1]', /outside the repository/],
      ['services.latest.volumes[2]', /not declared/],
      ['services.latest.ports[0]', /every interface/],
      ['services.latest.ports[1]', /publishes on 0\.0\.0\.0/],
      ['services.latest.ports[2]', /every interface/],
      ['services.latest.secrets[0]', /not declared/],
    ];
    for (const [where, what] of expectations) {
      assert.ok(
        problems.some((line) => line.startsWith(`${where}: `) && what.test(line)),
        `expected a problem at ${where} matching ${what}; got:\n${problems.join('\n')}`,
      );
    }
    assert.equal(problems.length, expectations.length, problems.join('\n'));
  });

  test('reports dependency cycles and one-shots that never complete', () => {
    const problems = check(`
services:
  a: { image: x/a:1, depends_on: [b] }
  b: { image: x/b:1, depends_on: [a] }
  once: { image: x/c:1, restart: always }
  c: { image: x/d:1, depends_on: { once: { condition: service_completed_successfully } } }
`);
    assert.ok(
      problems.some((line) => /cycle: a -> b -> a/.test(line)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((line) => line.startsWith('services.c.depends_on.once: ') && /never completes/.test(line)),
      problems.join('\n'),
    );
  });

  test('reports unreadable YAML instead of throwing', () => {
    assert.match(check('services: [unclosed\n')[0] ?? '', /^YAML: /);
    assert.match(checkCompose(join(dir, 'absent.yml')).problems[0] ?? '', /cannot be read/);
  });
});
