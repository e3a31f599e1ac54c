"""Text from targets reaches the store whatever it holds (NUL, lone surrogates, invisible characters), is read
back exactly, and is stored alike on SQLite and PostgreSQL; the evidence hash keeps verifying."""

from __future__ import annotations

import json
from datetime import timedelta

from alembic import command
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from auditor.evaluation.findings import Finding, HostResult, HostStatus
from auditor.evaluation.observations import HostFacts, Observation, ProbeOutcome
from auditor.reports.exports import export_json
from auditor.store import RunStatus, open_store, textcodec
from auditor.store.db import alembic_config, normalize_url
from auditor.store.textcodec import from_store, to_store
from auditor.vocabulary import LocalizedText, Severity, Status
from tests.unit.test_store import T0, any_url, make_agency, sqlite_url, start

__all__ = ["any_url", "sqlite_url"]  # fixtures used here

HOSTILE = "a\x00b \udc80\udcff \\x00 \\\\ud800 \u202eevil\u2066 zero\u200bwidth \\ C:\\new\\x00 Việt"
# Without lone surrogates: localized text cannot hold them (pydantic), nor a command its hash (UTF-8).
NO_SURROGATES = HOSTILE.encode("utf-8", "replace").decode()
# Characters that make the codec work, mixed with any others (lone surrogates included).
TRICKY = st.text(
    st.one_of(
        st.sampled_from(["\\", "x", "0", "u", "d", "8", "c", "f", "\x00", "\ud800", "\udfff", "D"]),
        st.characters(codec=None, exclude_categories=()),
    ),
    max_size=40,
)


# -- the codec -----------------------------------------------------------------------------------------------------


@given(TRICKY)
@example("\\" * 7 + "\x00")
@example("\\ud800\ud800x00\\\\x00")
def test_the_codec_gives_back_exactly_what_it_was_given(value: str) -> None:
    stored = to_store(value)
    assert from_store(stored) == value
    assert "\x00" not in stored
    stored.encode("utf-8")  # no lone surrogate left: every UTF-8 database can hold it


@given(st.text(st.characters(exclude_characters="\x00\\", exclude_categories=("Cs",))))
def test_ordinary_text_is_stored_as_it_is(value: str) -> None:
    assert to_store(value) == value


def test_the_stored_form_is_the_documented_one() -> None:
    assert to_store("a\x00b") == "a\\x00b"
    assert to_store("\udc80") == "\\udc80"
    assert to_store("\\x00") == "\\\\x00"  # a backslash that would read as an escape is doubled
    assert to_store("\\\x00") == "\\\\\\x00"
    assert to_store("C:\\new\\dir \\n \\u2028 \\uD800") == "C:\\new\\dir \\n \\u2028 \\uD800"  # the rest as is


def test_long_runs_of_backslashes_cost_linear_time() -> None:
    hostile = "\\" * 200_000 + "y"
    assert from_store(to_store(hostile)) == hostile
    assert to_store(hostile) == hostile


# -- the store -----------------------------------------------------------------------------------------------------


def hostile_host() -> HostResult:
    observation = Observation(
        probe_id="motd",
        command=f"printf '{NO_SURROGATES}'",
        outcome=ProbeOutcome.completed,
        exit_code=0,
        stdout=b"\x00raw bytes \xff\xfe" + HOSTILE.encode("utf-8", "surrogateescape"),
        stderr=b"\x00",
        collected_at=T0,
    )
    return HostResult(
        agency_id="vtv",
        host_name="web-01",
        address="10.0.0.1",
        status=HostStatus.ok,
        facts=HostFacts(hostname=f"web{HOSTILE}", os_pretty=HOSTILE),
        exec_requests=1,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
        observations=(observation,),
        findings=(
            Finding(
                check_id="motd.banner",
                status=Status.failed,
                severity=Severity.low,
                observed=HOSTILE,
                expected=f"!= {HOSTILE}",
                reason=LocalizedText(vi=f"Không đạt: {NO_SURROGATES}", en=f"Fail: {NO_SURROGATES}"),
                evidence_probe_id="motd",
            ),
        ),
    )


def unreachable_host() -> HostResult:
    return HostResult(
        agency_id="vtv",
        host_name="db-01",
        address="10.0.0.2",
        status=HostStatus.error,
        error_reason="unreachable",
        error_detail=f"banner: {HOSTILE}",
        started_at=T0,
        finished_at=T0,
    )


def test_any_text_from_a_target_is_stored_and_read_back_exactly(any_url: str) -> None:
    with open_store(any_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, make_agency(), hostile_host())
        store.save_host_result(run_id, make_agency(), unreachable_host())
        store.finish_run(run_id, RunStatus.failed, f"gone: {HOSTILE}")

        (row,) = store.list_findings(run_id, check_id="motd.banner")
        assert (row.observed, row.expected) == (HOSTILE, f"!= {HOSTILE}")
        assert (row.reason_vi, row.reason_en) == (f"Không đạt: {NO_SURROGATES}", f"Fail: {NO_SURROGATES}")
        assert store.list_findings(run_id, host_name="web-01") == [row]
        evidence = store.get_evidence(row.id)
        sent = hostile_host().observations[0]
        assert (evidence.command, evidence.stdout, evidence.stderr) == (sent.command, sent.stdout, sent.stderr)
        assert evidence.sha256 == sent.sha256 and evidence.verified  # the hash covers the original text
        hosts = {h.host_name: h for h in store.list_run_hosts(run_id)}
        assert hosts["db-01"].error_detail == f"banner: {HOSTILE}"
        assert hosts["web-01"].facts == hostile_host().facts
        assert store.get_run(run_id).status_detail == f"gone: {HOSTILE}"
        exported = store.export_run(run_id)
        assert exported["evidence"][0]["command"] == sent.command

        with store.engine.connect() as conn:  # what the database holds: the documented escapes, alike on both
            stored = conn.execute(text("SELECT observed FROM findings")).scalar_one()
            facts = conn.execute(text("SELECT CAST(facts AS TEXT) FROM run_hosts WHERE host_name = 'web-01'")).scalar()
        assert stored == to_store(HOSTILE) and "\x00" not in stored
        assert "\\u0000" in facts and "\\udc80" in facts and "\x00" not in facts  # JSON escapes


# -- the migration to this form ------------------------------------------------------------------------------------


def test_rows_written_before_read_back_unchanged_after_the_migration(any_url: str) -> None:
    """Text written raw before revision 0006 that reads like an escape is rewritten; the rest is left alone."""
    engine = create_engine(normalize_url(any_url))
    config = alembic_config()
    lookalike, plain = "printf '\\x00' | grep -c \\\\ud800", "grep '^\\s*PermitRootLogin'"
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
            conn.execute(
                text("INSERT INTO runs VALUES ('r-old', :t, :t, 'completed', '0.1', 'c', :sha, '{}', NULL)"),
                {"t": T0, "sha": "0" * 64},
            )
            conn.execute(text("INSERT INTO agencies VALUES ('vtv', 'VTV', 'VTV')"))
            conn.execute(
                text(
                    "INSERT INTO run_hosts (run_id, agency_id, host_name, kind, address, status, error_detail, "
                    "exec_requests, started_at, finished_at) "
                    "VALUES ('r-old', 'vtv', 'web-01', 'host', '10.0.0.1', 'error', :detail, 1, :t, :t)"
                ),
                {"detail": lookalike, "t": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO findings (run_id, run_host_id, check_id, status, severity, observed, expected, "
                    "reason_vi, reason_en, requirements) "
                    "SELECT 'r-old', id, 'c1', 'error', 'low', :plain, :lookalike, 'vi', 'en', '[]' FROM run_hosts"
                ),
                {"plain": plain, "lookalike": lookalike},
            )
            conn.commit()
            command.upgrade(config, "head")
            conn.commit()
            assert conn.execute(text("SELECT observed FROM findings")).scalar_one() == plain  # untouched
    finally:
        engine.dispose()
    with open_store(any_url) as store:
        (host,) = store.list_run_hosts("r-old")
        (finding,) = store.list_findings("r-old")
        assert (host.error_detail, finding.expected, finding.observed) == (lookalike, lookalike, plain)
        assert store.get_run("r-old").status is RunStatus.completed


def test_the_migration_goes_down_and_up_again(any_url: str) -> None:
    with open_store(any_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, make_agency(), unreachable_host())
        assert store.finish_run(run_id, "completed") is RunStatus.completed_with_errors
    engine = create_engine(normalize_url(any_url))
    config = alembic_config()
    try:
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0005")
            conn.commit()
            assert conn.execute(text("SELECT status FROM runs")).scalar_one() == "completed"
            command.upgrade(config, "head")
            conn.commit()
    finally:
        engine.dispose()
    with open_store(any_url) as store:
        assert store.get_run(run_id).status is RunStatus.completed
        # Going down, escapes became the text itself (what the older version shows); they stay that text.
        assert store.list_run_hosts(run_id)[0].error_detail == to_store(f"banner: {HOSTILE}")


def test_the_json_export_carries_any_text_as_stored(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        run_id = start(store)
        store.save_host_result(run_id, make_agency(), hostile_host())
        document = export_json(store, run_id)
    document.encode("utf-8")  # writable as UTF-8: a lone surrogate travels as its JSON escape
    parsed = json.loads(document)
    assert parsed["findings"][0]["observed"] == HOSTILE and parsed["hosts"][0]["facts"]["os_pretty"] == HOSTILE


@given(TRICKY)
@example("Việt \\x00")
@example("Việt \\ud9ff")
@example("\\udc80")
def test_the_quick_paths_give_what_the_substitutions_give(value: str) -> None:
    # Text without anything to escape skips the regular expressions: it must be exactly what they would give.
    assert to_store(value) == textcodec._TO_STORE.sub(textcodec._store_one, value)
    assert from_store(value) == textcodec._FROM_STORE.sub(textcodec._load_one, value)
