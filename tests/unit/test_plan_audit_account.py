"""The account the audit logs in with reaches the checks that allow it passwordless sudo, host by host."""

from __future__ import annotations

from auditor.content.loader import load_content
from auditor.inventory import Agency, Host, Inventory
from auditor.service.plan import host_inputs, plan_audit, plan_host, probe_command
from auditor.vocabulary import LocalizedText


def agency(*hosts: Host) -> Agency:
    return Agency(id="baotinh", name=LocalizedText(vi="Báo tỉnh", en="Provincial newspaper"), hosts=hosts)


def test_each_host_gets_its_own_login_account() -> None:
    profile = load_content().profile
    web = Host(name="web-01", address="10.0.0.5", user="kiemtra", use_agent=True, sudo=True)
    db = Host(name="db-01", address="10.0.0.6", use_agent=True)  # the default user: root
    owner = agency(web, db)
    assert host_inputs(owner, web, profile)["host_audit_account"] == "kiemtra"
    assert host_inputs(owner, db, profile)["host_audit_account"] == "root"


def test_the_sudo_probe_is_sent_with_the_login_account() -> None:
    content = load_content()
    web = Host(name="web-01", address="10.0.0.5", user="kiemtra", use_agent=True, sudo=True)
    check = content.checks["sudo_nopasswd_restricted"]
    plan = plan_host(agency(web), web, [check], content.profile, sources=content.sources)
    (request,) = plan.requests()
    assert "AUDITOR_INPUT_HOST_AUDIT_ACCOUNT='kiemtra'" in request.command
    assert request.command == probe_command(check.probe, plan.inputs)  # type: ignore[arg-type]


def test_hosts_alike_but_for_their_login_account_keep_their_own() -> None:
    """Hosts of one agency with the same roles share a plan, but not across login accounts."""
    content = load_content()
    first = Host(name="web-01", address="10.0.0.5", user="kiemtra", use_agent=True, sudo=True, roles=("web",))
    second = Host(name="web-02", address="10.0.0.6", user="auditor", use_agent=True, sudo=True, roles=("web",))
    third = Host(name="web-03", address="10.0.0.7", user="kiemtra", use_agent=True, sudo=True, roles=("web",))
    inventory = Inventory(agencies=(agency(first, second, third),))
    check = content.checks["sudo_nopasswd_restricted"]
    plan = plan_audit(inventory, [check], content.profile, sources=content.sources)
    accounts = {p.host.name: p.inputs["host_audit_account"] for p in plan.hosts}
    assert accounts == {"web-01": "kiemtra", "web-02": "auditor", "web-03": "kiemtra"}
    commands = {p.host.name: p.requests()[0].command for p in plan.hosts}
    assert "='auditor'" in commands["web-02"] and "='kiemtra'" in commands["web-03"]
