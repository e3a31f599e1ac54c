"""Record one lab host's answers to the full checklist, for the replay fleet of ``bench.fleet``.

Audits the host once with the real collector (one connection, one exec request, strict host keys) and
writes what came back, per probe id, as a :class:`~tests.hostile_ssh.replay.Recording`. Run as root,
with the lab up, under the lab's lock::

    flock LOCK .venv/bin/python -m bench.fleet_record --host labh3 --out bench/fleet_recording.json

The recording is only as current as the checklist it was made with: a probe added later has no record
in it and comes back ``missing`` when replayed. Record again after changing the checklist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/fleet_record.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.collectors.ssh.collector import SshCollector
from auditor.content.loader import load_content
from auditor.evaluation.observations import HostFacts, HostObservations, ProbeOutcome
from auditor.inventory import Agency, Host
from auditor.service.plan import plan_host
from lab.api import load_info
from lab.common import LabError
from tests.hostile_ssh.replay import RecordedProbe, Recording

DEFAULT_RECORDING = Path(__file__).with_name("fleet_recording.json")


def facts_record(facts: HostFacts) -> dict[str, str]:
    """The facts as the script's facts record writes them (its key names)."""
    return {
        "hostname": facts.hostname,
        "os_id": facts.os_id,
        "os_like": facts.os_like,
        "os_version": facts.os_version,
        "os_pretty": facts.os_pretty,
        "os_family": facts.os_family,
        "kernel": facts.kernel,
        "arch": facts.arch,
        "uid": "" if facts.uid is None else str(facts.uid),
        "systemd": "yes" if facts.has_systemd else "no",
    }


def recording_of(host_name: str, observed: HostObservations) -> Recording:
    probes = {
        probe_id: RecordedProbe(
            probe_id=probe_id,
            outcome=observation.outcome.value,
            exit_code=observation.exit_code,
            stdout=observation.stdout,
            stderr=observation.stderr,
            duration_s=observation.duration_s,
        )
        for probe_id, observation in observed.observations.items()
    }
    return Recording(host=host_name, facts=facts_record(observed.facts), probes=probes)


def record(host_name: str) -> Recording:
    info = load_info()
    lab_host = next((h for h in info.hosts if h.name == host_name), None)
    if lab_host is None:
        raise LabError(f"no lab host {host_name} (lab hosts: {', '.join(h.name for h in info.hosts)})")
    content = load_content()
    host = Host(
        name=lab_host.name,
        address=lab_host.address,
        port=lab_host.port,
        user=lab_host.user,
        key_file=info.key_file,
        sudo=True,
        roles=("web",),
    )
    agency = Agency.model_validate(
        {
            "id": "bench",
            "name": {"vi": "Đo hiệu năng", "en": "Benchmark"},
            "inputs": {"allowed_ports_admin": "22,2222"},  # as the replay fleet's inventory has it
            "hosts": [host.model_dump()],
        }
    )
    plan = plan_host(agency, host, content.select(()), content.profile, sources=content.sources)
    observed = SshCollector(info.known_hosts_file).collect(host, plan.requests())
    missing = [p for p, o in observed.observations.items() if o.outcome is ProbeOutcome.missing]
    if missing:
        raise LabError(f"{host_name}: no record came back for {', '.join(missing)}; not recorded")
    return recording_of(host_name, observed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_record", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="labh3", help="the lab host to record (default labh3, mixed posture)")
    parser.add_argument("--out", type=Path, default=DEFAULT_RECORDING, help="where the recording goes")
    args = parser.parse_args(argv)
    recording = record(args.host)
    args.out.write_text(recording.to_json(), encoding="utf-8")
    size = args.out.stat().st_size
    print(f"{args.out}: {len(recording.probes)} probes of {args.host}, {size / 1024:.0f} KiB", file=sys.stderr)


if __name__ == "__main__":
    main()
