#!/usr/bin/env bash
# The portal on the demo database (optional, after scripts/demo.sh): `auditor serve` as its own
# unprivileged user "auditor", on http://127.0.0.1:8080/ (AUDITOR_PORTAL_PORT to change).
#   scripts/portal-demo.sh            first start: copies the demo database, creates the demo accounts
#                                     and prints their passwords once; later starts keep the portal's state
#   scripts/portal-demo.sh --fresh    start over from a new copy of ./auditor.db (new accounts and passwords)
# The portal's state (its database, the cookie secret, copies of the lab's SSH key, known hosts and CA)
# lives in /var/lib/auditor-demo, owned by that user and readable by it alone.
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=0
[ "${1:-}" = "--fresh" ] && fresh=1
port="${AUDITOR_PORTAL_PORT:-8080}"
user=auditor
state=/var/lib/auditor-demo

if [ "$(id -u)" -ne 0 ]; then
  echo "portal-demo.sh: run as root (it creates the portal's user and starts the lab)" >&2
  exit 3
fi
[ -f auditor.db ] || scripts/demo.sh
mkdir -p out
quietly() { "$@" >out/portal-demo-setup.log 2>&1 || { cat out/portal-demo-setup.log >&2; return 1; }; }
quietly scripts/setup.sh

# The lab may have been rebuilt since the demo audit (new host keys): bring it up and enrol it again.
quietly .venv/bin/python -m lab up 5
.venv/bin/python -m lab ca > out/lab-ca.pem
AUDITOR_KNOWN_HOSTS="$PWD/out/demo_known_hosts" \
  .venv/bin/auditor hosts trust --inventory examples/inventory.yml --yes --replace >/dev/null

id -u "$user" >/dev/null 2>&1 \
  || useradd --system --home-dir "$state" --no-create-home --shell /usr/sbin/nologin "$user"
as_portal() { runuser -u "$user" -- env -i HOME="$state" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }

# The portal's user runs the checkout's virtualenv when it can reach it, else its own install in
# /opt/auditor (where deploy/auditor-portal.service expects it).
python="$PWD/.venv/bin/python"
if ! as_portal "$python" -c 'import auditor' 2>/dev/null; then
  [ -x /opt/auditor/.venv/bin/python ] || /usr/bin/python3 -m venv /opt/auditor/.venv
  quietly /opt/auditor/.venv/bin/python -m pip install -q --upgrade "$PWD"
  python=/opt/auditor/.venv/bin/python
fi

db="$state/auditor.db"
[ "$fresh" = 1 ] && rm -f "$db" "$db-wal" "$db-shm"
install -d -o "$user" -g "$user" -m 700 "$state"
key_file="$(sed -n 's/^ *key_file: *//p' examples/inventory.yml | head -n 1)"
install -o "$user" -g "$user" -m 600 "$key_file" "$state/id_ed25519"
install -o "$user" -g "$user" -m 600 out/demo_known_hosts "$state/known_hosts"
install -o "$user" -g "$user" -m 644 out/lab-ca.pem "$state/lab-ca.pem"
sed "s#^\( *key_file:\).*#\1 $state/id_ed25519#" examples/inventory.yml > "$state/inventory.yml"
chown "$user:$user" "$state/inventory.yml"

if [ ! -f "$db" ]; then
  # A consistent copy even if the demo database is in use (SQLite's online backup).
  .venv/bin/python -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
    auditor.db "$db"
  chown "$user:$user" "$db"
  chmod 600 "$db"
  accounts=(
    "canbo officer - Cán bộ an toàn thông tin"
    "lanhdao department - Lãnh đạo Sở"
  )
  for agency in $(sed -n 's/^  - id: *//p' examples/inventory.yml); do
    accounts+=("$agency-it agency $agency Kỹ thuật $agency")
  done
  echo
  echo "Demo accounts (the passwords are shown this once; scripts/portal-demo.sh --fresh makes new ones):"
  for account in "${accounts[@]}"; do
    read -r username role agency name <<<"$account"
    password="$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(15))')"
    agency_option=()
    [ "$agency" = "-" ] || agency_option=(--agency "$agency")
    as_portal env AUDITOR_DEMO_PASSWORD="$password" "$python" -m auditor users add "$username" --role "$role" \
      --name "$name" "${agency_option[@]}" --password-env AUDITOR_DEMO_PASSWORD --db "sqlite:///$db" >/dev/null
    printf '  %-30s %-11s %s\n' "$username" "$role" "$password"
  done
  echo
fi

echo "portal: http://127.0.0.1:$port/ (Ctrl-C stops it)"
exec runuser -u "$user" -- env -i HOME="$state" PATH=/usr/bin:/bin LANG=C.UTF-8 \
  "$python" -m auditor serve --inventory "$state/inventory.yml" --db "sqlite:///$db" \
  --known-hosts "$state/known_hosts" --secret-file "$state/portal.key" --trust-ca "$state/lab-ca.pem" \
  --host 127.0.0.1 --port "$port"
