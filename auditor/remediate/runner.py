"""Run the remediation play through ansible-runner in a private data dir kept as evidence."""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import ansible_runner
import yaml
from pydantic import BaseModel, ConfigDict

from auditor.collectors.ssh.known_hosts import KnownHostsStore, host_spec
from auditor.errors import ConfigError
from auditor.foreign import foreign
from auditor.remediate.selection import HostTarget, Selection
from auditor.remediate.units import UNIT_DIR, builtin_playbooks_dir

Mode = Literal["check", "apply"]
PLAYBOOK = "remediate.yml"
DIFF_LINES_MAX = 60
GUARD_SECONDS = 120
_SSH_ARGS = (
    "-o ControlMaster=auto -o ControlPersist=60s -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null "
    "-o BatchMode=yes -o PreferredAuthentications=publickey -o PasswordAuthentication=no "
    "-o KbdInteractiveAuthentication=no -o ConnectTimeout=15"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskChange(_Model):
    task: str
    status: Literal["changed", "failed"]
    diff: str = ""
    message: str = ""


class UnitOutcome(_Model):
    host_name: str
    unit: str
    status: Literal["changed", "unchanged", "failed", "not_run"]
    changes: tuple[TaskChange, ...] = ()

    @property
    def message(self) -> str:
        return "; ".join(c.message for c in self.changes if c.status == "failed" and c.message)


class PlayResult(_Model):
    mode: Mode
    ident: str
    rc: int
    runner_status: str
    duration_s: float
    units: tuple[UnitOutcome, ...]
    host_errors: dict[str, str]  # host → why it stopped outside any unit (unreachable, guard, sudo)

    def of(self, host_name: str) -> list[UnitOutcome]:
        return [u for u in self.units if u.host_name == host_name]

    @property
    def changed_count(self) -> int:
        return sum(1 for u in self.units if u.status == "changed")


def ansible_bin_dir() -> Path:
    """ansible-playbook installed beside this Python (the venv), else on PATH."""
    beside = Path(sys.executable).parent
    if (beside / "ansible-playbook").exists():
        return beside
    found = shutil.which("ansible-playbook")
    if found is None:
        raise ConfigError(foreign("remediate_no_ansible"))
    return Path(found).parent


def known_hosts_lines(targets: Iterable[HostTarget], known_hosts: Path) -> str:
    """The tool's trusted keys for exactly these hosts, in OpenSSH format (refuses untrusted hosts)."""
    store = KnownHostsStore(known_hosts)
    lines: list[str] = []
    for target in targets:
        keys = store.lookup_all(target.address, target.port)
        if not keys:
            raise ConfigError(foreign("remediate_host_key_untrusted", host=target.host_name, known_hosts=known_hosts))
        spec = host_spec(target.address, target.port)
        lines.extend(f"{spec} {key.get_name()} {key.get_base64()}\n" for key in keys)
    return "".join(lines)


def prepare_data_dir(
    data_dir: Path, selection: Selection, known_hosts: Path, playbooks_dir: Path | None = None
) -> Path:
    """Copy the playbooks, write known_hosts, ansible.cfg and the inventory; returns the data dir."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    project = data_dir / "project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(playbooks_dir or builtin_playbooks_dir(), project, symlinks=False)
    targets = selection.runnable
    (data_dir / "known_hosts").write_text(known_hosts_lines(targets, known_hosts), encoding="utf-8")
    (data_dir / "tmp").mkdir(exist_ok=True)
    (project / "ansible.cfg").write_text(
        "[defaults]\n"
        "host_key_checking = True\n"
        "retry_files_enabled = False\n"
        "interpreter_python = auto_silent\n"
        "forks = 10\n"
        "timeout = 20\n"
        "nocolor = True\n"
        f"local_tmp = {data_dir / 'tmp'}\n"
        "\n[ssh_connection]\n"
        "pipelining = True\n"
        f"ssh_args = {_SSH_ARGS} -o UserKnownHostsFile={data_dir / 'known_hosts'}\n",
        encoding="utf-8",
    )
    inventory_dir = data_dir / "inventory"
    inventory_dir.mkdir(exist_ok=True)
    hosts: dict[str, Any] = {}
    for target in targets:
        host_vars: dict[str, Any] = {
            "ansible_host": target.address,
            "ansible_port": target.port,
            "ansible_user": target.user,
            "ansible_become": target.user != "root",
            "auditor_checks": [fix.unit for fix in target.fixes],
            "auditor_inputs": target.inputs,
            "auditor_params": selection.params,
            "auditor_key_login": target.key_file is not None or target.use_agent,
            "auditor_guard_seconds": GUARD_SECONDS,
        }
        if target.key_file is not None:
            host_vars["ansible_ssh_private_key_file"] = str(target.key_file)
            host_vars["ansible_ssh_extra_args"] = "-o IdentitiesOnly=yes"
        hosts[target.host_name] = host_vars
    (inventory_dir / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"hosts": hosts}}, allow_unicode=True, sort_keys=True), encoding="utf-8"
    )
    return data_dir


def run_play(data_dir: Path, selection: Selection, mode: Mode, ident: str, timeout_s: int = 1800) -> PlayResult:
    """One ansible-playbook run over the selection's runnable hosts (`--check --diff` unless applying)."""
    hosts = [t.host_name for t in selection.runnable]
    bin_dir = ansible_bin_dir()
    control_dir = tempfile.mkdtemp(prefix="auditor-cp-")  # short: ssh control sockets have a path limit
    envvars = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(data_dir / "project" / "ansible.cfg"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": control_dir,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    started = time.monotonic()
    try:
        result = ansible_runner.run(
            private_data_dir=str(data_dir),
            playbook=PLAYBOOK,
            inventory=str(data_dir / "inventory" / "hosts.yml"),
            limit=",".join(hosts),
            extravars={"auditor_remediation_id": f"{data_dir.name}-{ident}"},
            cmdline="--check --diff" if mode == "check" else "--diff",
            envvars=envvars,
            ident=ident,
            quiet=True,
            timeout=timeout_s,
        )
        events = list(result.events)
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)
    units, host_errors = parse_events(events, selection)
    return PlayResult(
        mode=mode,
        ident=ident,
        rc=int(result.rc if result.rc is not None else -1),
        runner_status=str(result.status),
        duration_s=round(time.monotonic() - started, 2),
        units=units,
        host_errors=host_errors,
    )


def _unit_of_task(task_path: str) -> str | None:
    path = Path(task_path.rsplit(":", 1)[0])
    return path.stem if path.parent.name == UNIT_DIR else None


def render_diff(diff: object) -> str:
    """Ansible's diff (dict or list of dicts; before/after texts or values) as short unified text."""
    items = diff if isinstance(diff, list) else [diff]
    out: list[str] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("prepared"):
            out.append(str(item["prepared"]).rstrip())
        before, after = item.get("before"), item.get("after")
        if isinstance(before, str) and isinstance(after, str):
            lines = difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                str(item.get("before_header", "before")),
                str(item.get("after_header", "after")),
                n=1,
                lineterm="",
            )
            out.extend(lines)
        elif isinstance(before, Mapping) and isinstance(after, Mapping):
            for key in sorted(set(before) | set(after)):
                if key != "path" and before.get(key) != after.get(key):
                    out.append(f"{key}: {before.get(key)} → {after.get(key)}")
    if len(out) > DIFF_LINES_MAX:
        out = [*out[:DIFF_LINES_MAX], f"… {len(out) - DIFF_LINES_MAX} more lines in the evidence folder"]
    return "\n".join(out)


def _diffs(res: Mapping[str, Any]) -> str:
    parts = [render_diff(res["diff"])] if res.get("diff") else []
    if not parts and res.get("stdout_lines"):  # apt-get purge (-s in a dry run): the packages it removes
        parts = [str(line) for line in res["stdout_lines"] if str(line).startswith(("Purg ", "Remv ", "Inst "))]
    for item in res.get("results") or ():
        if isinstance(item, Mapping) and item.get("changed") and item.get("diff"):
            parts.append(render_diff(item["diff"]))
    return "\n".join(p for p in parts if p)


def _message(res: Mapping[str, Any]) -> str:
    text = str(res.get("msg") or res.get("stderr") or "")
    for item in res.get("results") or ():
        if isinstance(item, Mapping) and item.get("failed"):
            text = text or str(item.get("msg") or item.get("stderr") or "")
    return text.strip()[:500]


def parse_events(
    events: Iterable[Mapping[str, Any]], selection: Selection
) -> tuple[tuple[UnitOutcome, ...], dict[str, str]]:
    changes: dict[tuple[str, str], list[TaskChange]] = {}
    seen: set[tuple[str, str]] = set()
    host_errors: dict[str, str] = {}
    for event in events:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = data.get("host")
        if not host or kind not in {"runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped"}:
            continue
        res = data.get("res") or {}
        unit = _unit_of_task(str(data.get("task_path", "")))
        if kind == "runner_on_unreachable":
            host_errors[host] = f"unreachable: {_message(res)}"
            continue
        if unit is None:
            if kind == "runner_on_failed" and not data.get("ignore_errors"):
                host_errors.setdefault(host, f"{data.get('task', '')}: {_message(res)}")
            continue
        seen.add((host, unit))
        if kind == "runner_on_failed":
            changes.setdefault((host, unit), []).append(
                TaskChange(task=str(data.get("task", "")), status="failed", message=_message(res))
            )
        elif kind == "runner_on_ok" and res.get("changed"):
            changes.setdefault((host, unit), []).append(
                TaskChange(task=str(data.get("task", "")), status="changed", diff=_diffs(res))
            )
    outcomes = []
    for target in selection.runnable:
        for fix in target.fixes:
            key = (target.host_name, fix.unit)
            found = tuple(changes.get(key, ()))
            if any(c.status == "failed" for c in found):
                status: Literal["changed", "unchanged", "failed", "not_run"] = "failed"
            elif found:
                status = "changed"
            elif key in seen:
                status = "unchanged"
            else:
                status = "not_run"
            outcomes.append(UnitOutcome(host_name=target.host_name, unit=fix.unit, status=status, changes=found))
    return tuple(outcomes), host_errors
