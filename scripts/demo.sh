#!/usr/bin/env bash
# The main job end to end: set up, start the lab's five hosts, enrol their SSH keys, audit them
# into the default SQLite database (./auditor.db) and export the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

.venv/bin/python -m lab up 5
mkdir -p out
.venv/bin/python -m lab ca > out/lab-ca.pem  # the lab's sound web servers use certificates from these CAs
# Lab hosts get new keys when the lab is rebuilt, hence a demo-only known-hosts file and --replace.
# For real servers, compare each fingerprint with the one the agency gives you before recording it.
export AUDITOR_KNOWN_HOSTS="$PWD/out/demo_known_hosts"
.venv/bin/auditor hosts trust --inventory examples/inventory.yml --yes --replace

# Every run ends with a manifest signed by the installation's key: made once, never overwritten.
signing_key="${AUDITOR_SIGNING_KEY:-${XDG_CONFIG_HOME:-$HOME/.config}/auditor/signing_key.pem}"
[ -e "$signing_key" ] || .venv/bin/auditor keys init --key "$signing_key"

status=0
.venv/bin/auditor audit --inventory examples/inventory.yml --trust-ca out/lab-ca.pem || status=$?
# Exit status 1 (failures found) or 2 (errors) is an audit result, not a failure of the demo.
[ "$status" -le 2 ] || exit "$status"

.venv/bin/auditor runs --limit 5
.venv/bin/auditor findings latest --status fail --host vhnt-web | head -n 40
.venv/bin/auditor export latest --format json --output out/latest-run.json
.venv/bin/auditor export latest --format csv --output out/latest-run.csv
for agency in baosoctrang dai-ptth-soctrang tapchi-vhnt-soctrang cong-ttdt-soctrang; do
  .venv/bin/auditor report latest --agency "$agency" --lang vi --format html --output "out/report-$agency-vi.html"
done
.venv/bin/auditor report latest --agency baosoctrang --lang vi --format pdf --output out/report-baosoctrang-vi.pdf
.venv/bin/auditor report latest --summary --lang vi --format html --output out/summary-vi.html
# One bundle for the demo agency, checked offline against the installation's public key.
.venv/bin/auditor bundle latest --agency baosoctrang --output out/bundle-baosoctrang.zip
.venv/bin/auditor verify out/bundle-baosoctrang.zip --pubkey "$signing_key.pub"
echo "demo: findings stored in ./auditor.db; reports and exports in out/"
