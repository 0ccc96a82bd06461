#!/bin/sh
# temporal-schema (docker-compose.yml): creates or upgrades Temporal's PostgreSQL schemas.
# Same steps as Temporal's own compose example for PostgreSQL (temporalio/samples-server,
# compose/scripts/setup-postgres.sh); every step is idempotent, so it runs on each start and
# also applies schema updates after the server image is upgraded.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE is required}"
DB_PORT="${DB_PORT:-5432}"

if [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
  echo "temporal-schema: $POSTGRES_PASSWORD_FILE is empty: set TEMPORAL_DB_PASSWORD (docs/production.md)" >&2
  exit 1
fi
# temporal-sql-tool reads the password from SQL_PASSWORD; keep it out of the process list.
SQL_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
export SQL_PASSWORD

nc -z -w 10 "$POSTGRES_SEEDS" "$DB_PORT"

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" "$@"
}

SCHEMA=/etc/temporal/schema/postgresql/v12
sql_tool --db temporal create
sql_tool --db temporal setup-schema -v 0.0
sql_tool --db temporal update-schema -d "$SCHEMA/temporal/versioned"

sql_tool --db temporal_visibility create
sql_tool --db temporal_visibility setup-schema -v 0.0
sql_tool --db temporal_visibility update-schema -d "$SCHEMA/visibility/versioned"

echo 'temporal-schema: PostgreSQL schemas are up to date'
