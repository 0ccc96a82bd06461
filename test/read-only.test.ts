import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkReadOnly } from '../src/integrations/trino/read-only';

const MUST_BE = 'must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN)';

function accepted(sql: string): string {
  const verdict = checkReadOnly(sql);
  assert.ok(verdict.readOnly, `${JSON.stringify(sql)} was refused: ${verdict.readOnly ? '' : verdict.reason}`);
  return verdict.statement;
}

function refused(sql: string): string {
  const verdict = checkReadOnly(sql);
  assert.ok(!verdict.readOnly, `${JSON.stringify(sql)} was accepted`);
  return verdict.reason;
}

describe('read-only check of smoke queries', () => {
  it('accepts every read-only statement kind, in any case, and sends it unchanged', () => {
    for (const sql of [
      'SELECT 1',
      'select version()',
      "SeLeCt count(*) FROM system.runtime.nodes WHERE state = 'active'",
      'VALUES 1, 2',
      'SHOW CATALOGS',
      'show create table tpch.tiny.nation',
      'SHOW STATS FOR (SELECT * FROM tpch.tiny.nation)',
      'DESCRIBE tpch.tiny.nation',
      'DESC tpch.tiny.nation',
      'EXPLAIN SELECT 1',
      'explain (type distributed, format json) SELECT 1',
      'WITH x AS (SELECT 1 AS a) SELECT a FROM x',
      'with recursive t(n) as (values 1 union all select n + 1 from t where n < 3) select * from t',
      'WITH a AS (SELECT 1), b (c) AS (WITH d AS (SELECT 2) TABLE d) SELECT * FROM a, b',
      'WITH x AS (SELECT 1) VALUES 2',
      'SELECT * FROM TABLE(sequence(start => 1, stop => 3))',
    ]) {
      assert.equal(accepted(sql), sql);
    }
  });

  it('refuses writes and everything else, naming the statement', () => {
    assert.equal(refused('DELETE FROM t'), `${MUST_BE}; "DELETE FROM t" is not`);
    for (const sql of [
      'INSERT INTO t SELECT * FROM s',
      'insert into t values (1)',
      'CREATE TABLE t AS SELECT 1',
      'CREATE OR REPLACE TABLE t AS (SELECT 1) WITH NO DATA',
      'CREATE VIEW v AS SELECT 1',
      'UPDATE t SET a = 1',
      'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
      'DROP TABLE t',
      'TRUNCATE TABLE t',
      'ALTER TABLE t EXECUTE optimize',
      'ANALYZE t',
      "CALL system.sync_partition_metadata('s', 't', 'FULL')",
      'GRANT SELECT ON t TO alice',
      "SET SESSION query_max_run_time = '1h'",
      'USE tpch.tiny',
      'PREPARE p FROM DELETE FROM t',
      "EXECUTE IMMEDIATE 'DELETE FROM t'",
      'START TRANSACTION',
      'REFRESH MATERIALIZED VIEW mv',
    ]) {
      assert.ok(refused(sql).startsWith(`${MUST_BE}; "${sql}" is not`), refused(sql));
    }
  });

  it('reads past comments and leading parentheses: a DELETE hidden behind them is still a DELETE', () => {
    assert.equal(refused('/* SELECT */ DELETE FROM t'), `${MUST_BE}; "DELETE FROM t" is not`);
    assert.equal(refused('-- SELECT 1\nDELETE FROM t'), `${MUST_BE}; "DELETE FROM t" is not`);
    assert.equal(refused('  \n\t(( DELETE FROM t ))'), `${MUST_BE}; "(( DELETE FROM t ))" is not`);
    assert.equal(refused('/*/ SELECT 1 */ DROP TABLE t'), `${MUST_BE}; "DROP TABLE t" is not`);
    assert.equal(
      accepted('-- health\n/* sandbox:duration=10ms */ ((SELECT 1))'),
      '-- health\n/* sandbox:duration=10ms */ ((SELECT 1))',
    );
    assert.equal(accepted('SELECT 1 -- DELETE FROM t'), 'SELECT 1 -- DELETE FROM t');
  });

  it('takes one statement: a second one after a semicolon is refused, one in a literal or identifier is text', () => {
    assert.equal(
      refused('SELECT 1; DROP TABLE t'),
      'must be a single statement; "SELECT 1; DROP TABLE t" has another one after a ";"',
    );
    refused('SELECT 1;DELETE FROM t;');
    refused('SELECT 1; -- the end\nDELETE FROM t');
    refused('; SELECT 1');
    assert.equal(accepted("SELECT ';' AS semi"), "SELECT ';' AS semi");
    assert.equal(accepted("SELECT 'it''s; DROP TABLE t' AS s"), "SELECT 'it''s; DROP TABLE t' AS s");
    assert.equal(accepted('SELECT "a;b" FROM "t;DROP TABLE u"'), 'SELECT "a;b" FROM "t;DROP TABLE u"');
    assert.equal(accepted('SELECT "say ""hi""; bye" FROM t'), 'SELECT "say ""hi""; bye" FROM t');
    assert.equal(accepted('SELECT 1 /* ; DROP TABLE t */'), 'SELECT 1 /* ; DROP TABLE t */');
  });

  it('drops trailing semicolons, which the client protocol does not take', () => {
    assert.equal(accepted('SELECT 1;'), 'SELECT 1');
    assert.equal(accepted('SELECT 1 ;  ;\n-- done\n'), 'SELECT 1');
    assert.equal(accepted("SELECT ';'; "), "SELECT ';'");
  });

  it('refuses EXPLAIN ANALYZE of a write, since it runs it, and accepts a plain EXPLAIN of one', () => {
    assert.equal(
      refused('EXPLAIN ANALYZE DELETE FROM t'),
      `${MUST_BE}; "EXPLAIN ANALYZE DELETE FROM t" runs DELETE, which is not read-only (EXPLAIN ANALYZE executes the statement)`,
    );
    assert.match(refused('explain analyze verbose insert into t select 1'), /runs INSERT INTO, which is not read-only/);
    assert.match(refused('EXPLAIN ANALYZE EXPLAIN ANALYZE DROP TABLE t'), /runs EXPLAIN, which is not read-only/);
    assert.match(refused('EXPLAIN ANALYZE WITH x AS (SELECT 1) INSERT INTO t TABLE x'), /runs WITH/);
    accepted('EXPLAIN ANALYZE SELECT count(*) FROM t');
    accepted('EXPLAIN ANALYZE VERBOSE (SELECT 1)');
    accepted('EXPLAIN DELETE FROM t');
    accepted('EXPLAIN (TYPE IO) INSERT INTO t SELECT 1');
  });

  it('refuses a WITH clause that leads into anything but a query, or holds anything but queries', () => {
    assert.equal(
      refused('WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x'),
      `${MUST_BE}; "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x" leads its WITH clause into INSERT INTO, not into a query (SELECT, VALUES, TABLE)`,
    );
    assert.match(refused('WITH x AS (SELECT 1), y AS (SELECT 2) DELETE FROM t'), /into DELETE, not into a query/);
    assert.match(refused('WITH x AS (DELETE FROM t) SELECT 1'), /has a named query that is DELETE, not a query/);
    assert.match(refused('WITH a AS (WITH b AS (SELECT 1) DELETE FROM t) SELECT 1'), /into DELETE/);
    assert.match(refused('WITH x AS SELECT 1'), /has a WITH clause that cannot be read/);
    assert.match(refused('WITH x AS (SELECT 1 SELECT 2'), /unbalanced parentheses/);
    assert.match(
      refused('WITH FUNCTION meaning() RETURNS bigint RETURN 42 SELECT meaning()'),
      /inline functions or session properties/,
    );
    assert.match(refused("WITH SESSION query_max_run_time = '1h' SELECT 1"), /WITH FUNCTION, WITH SESSION/);
    accepted('WITH function AS (SELECT 1), recursive AS (SELECT 2) SELECT * FROM function, recursive');
  });

  it('refuses pass-through table functions, which send their text to another database', () => {
    assert.match(
      refused("SELECT * FROM TABLE(postgresql.system.query(query => 'DELETE FROM t RETURNING *'))"),
      /calls the table function postgresql\.system\.query, which passes its text to another database unchecked/,
    );
    assert.match(refused('select * from table ( "pg"."system"."QUERY" (query => \'x\'))'), /pg\.system\.query/);
  });

  it('refuses what it cannot read to the end: unterminated comments, literals and identifiers, empty text', () => {
    assert.equal(refused('SELECT 1 /* forever'), 'is not a complete statement: a /* comment is never closed');
    assert.equal(refused("SELECT 'x; DELETE FROM t"), 'is not a complete statement: a string literal is never closed');
    assert.equal(refused('SELECT "x'), 'is not a complete statement: a quoted identifier is never closed');
    assert.equal(refused('  -- nothing\n'), 'must be a SQL statement (it is empty or only comments)');
    assert.equal(refused(''), 'must be a SQL statement (it is empty or only comments)');
    assert.equal(refused(';'), 'must be a SQL statement (it is empty or only comments)');
    assert.equal(refused('42'), `${MUST_BE}; "42" is not`);
  });

  it('quotes a long statement on one line, shortened', () => {
    const reason = refused(`DELETE FROM t\nWHERE ${'x = 1 OR '.repeat(20)}false`);
    assert.match(reason, /"DELETE FROM t WHERE x = 1 OR .{40,}…" is not$/);
    assert.ok(!reason.includes('\n'));
  });
});
