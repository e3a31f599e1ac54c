#!/usr/bin/env bash
# Everything CI runs: setup with test tools, PostgreSQL for the store, lint, the whole test suite
# (unit tests and integration tests against the lab, which the tests bring up themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev

# A PostgreSQL server on loopback, for the store tests against a real PostgreSQL.
if [ -z "$(pg_lsclusters --no-header 2>/dev/null)" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -n | tail -n 1)" main >/dev/null
fi
read -r pg_version pg_name pg_port _ < <(pg_lsclusters --no-header | head -n 1)
pg_ctlcluster "$pg_version" "$pg_name" start 2>/dev/null || true
for _ in $(seq 1 30); do
  su postgres -c "psql -p $pg_port -qtAc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $pg_port -qtAc \"select 1 from pg_roles where rolname = 'auditor_test'\"" | grep -q 1 \
  || su postgres -c "psql -p $pg_port -qc \"create role auditor_test login password 'auditor_test'\""
su postgres -c "psql -p $pg_port -qc 'drop database if exists auditor_test'" >/dev/null
su postgres -c "createdb -p $pg_port -O auditor_test auditor_test"
export AUDITOR_TEST_PG_URL="postgresql://auditor_test:auditor_test@127.0.0.1:$pg_port/auditor_test"
export AUDITOR_REQUIRE_LAB=1

.venv/bin/ruff check .
.venv/bin/ruff format --check auditor tests lab bench
.venv/bin/mypy auditor
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
