"""The `auditor` command. Only this module is imported to start: each command's module (and the heavy
libraries it needs) is imported when that command runs, so `--version` and `--help` answer at once."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated, Any, NamedTuple

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from auditor import __version__


class _Entry(NamedTuple):
    module: str  # the module defining the command
    attribute: str  # its typer app
    help: str  # the one line shown in `auditor --help`


COMMANDS: dict[str, _Entry] = {
    "audit": _Entry("auditor.cli.audit", "app", "Audit servers over SSH and from the network; store the findings."),
    "runs": _Entry("auditor.cli.results", "app", "List audit runs, newest first."),
    "findings": _Entry("auditor.cli.results", "app", "List the findings of a run (attestations and waivers applied)."),
    "evidence": _Entry("auditor.cli.results", "app", "Show the evidence behind a finding, with its verified hash."),
    "export": _Entry("auditor.cli.results", "app", "Export a run as JSON or CSV."),
    "diff": _Entry("auditor.cli.results", "app", "Changes between two runs: new, fixed, regressed, still failing."),
    "report": _Entry("auditor.cli.report", "app", "Write an agency report or the department summary (HTML, PDF)."),
    "verdict": _Entry("auditor.cli.governance", "verdict_app", "Level-3 verdict of one agency, clause by clause."),
    "import": _Entry("auditor.cli.imports", "app", "Import OpenSCAP or Lynis results into an agency's history."),
    "attest": _Entry("auditor.cli.governance", "attest_app", "Manual evidence: attestations with documents."),
    "waive": _Entry("auditor.cli.governance", "waive_app", "Governed exceptions: waivers with approver and expiry."),
    "remediate": _Entry("auditor.cli.remediate", "app", "Fix failed findings with Ansible units; dry run first."),
    "checklist": _Entry("auditor.cli.checklist", "checklist_app", "Inspect and validate checklist content."),
    "hosts": _Entry("auditor.cli.hosts", "hosts_app", "Enrol hosts' SSH keys."),
    "inventory": _Entry("auditor.cli.inventory", "inventory_app", "Check an inventory: schema, roles, keys, names."),
    "serve": _Entry("auditor.cli.serve", "app", "Serve the portal for the officer, the department and agencies."),
    "users": _Entry("auditor.cli.users", "users_app", "Portal accounts: add, list, disable, passwd, role."),
    "schedule": _Entry("auditor.cli.schedule", "schedule_app", "Scheduled audits: add, list, pause, remove."),
    "keys": _Entry("auditor.cli.keys", "keys_app", "The installation's signing key: create, rotate, show."),
    "bundle": _Entry("auditor.cli.bundle", "app", "Write a run's signed bundle for offline verification (zip)."),
    "verify": _Entry("auditor.cli.bundle", "app", "Verify a bundle offline, or the database against its manifests."),
    "worker": _Entry("auditor.cli.worker", "app", "Collect for one network zone (a Celery worker holding its keys)."),
}


class LazyGroup(TyperGroup):
    """Lists commands from COMMANDS without importing them; imports one only to run it (or show its help). Help and
    the parser's messages speak the language asked for (auditor.cli.help_words.help_lang)."""

    lang = "vi"

    def main(self, args: Any = None, *more: Any, **options: Any) -> Any:
        from auditor.cli import framework_words
        from auditor.cli.help_words import help_lang, localize

        given = list(sys.argv[1:] if args is None else args)
        self.lang = help_lang(given)
        framework_words.install(vietnamese=self.lang == "vi")
        localize(self, "auditor", self.lang)
        return super().main(given, *more, **options)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """For the help listing: a stand-in carrying the one-line help (running goes through resolve_command)."""
        from auditor.cli.help_words import short_help

        entry = COMMANDS.get(cmd_name)
        return TyperCommand(cmd_name, help=short_help(cmd_name, entry.help, self.lang)) if entry is not None else None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS:
            from auditor.cli.help_words import localize

            return args[0], localize(load_command(args[0]), f"auditor {args[0]}", self.lang), args[1:]
        # The stand-ins, for Typer to suggest a close name for a mistyped command; no module is imported.
        self.commands = {name: self.get_command(ctx, name) for name in COMMANDS}
        try:
            return super().resolve_command(ctx, args)
        finally:
            self.commands = {}


def load_command(name: str) -> Any:
    """The real command: a module's typer app is one command, a group of subcommands (`checklist ...`), or
    several top-level commands of which this is one (`runs`, `findings`, ...)."""
    entry = COMMANDS[name]
    command = typer.main.get_command(getattr(importlib.import_module(entry.module), entry.attribute))
    if isinstance(command, TyperGroup) and name in command.commands:
        return command.commands[name]
    command.name = name
    return command


# Tracebacks never show local variables: they could hold credentials read from the environment.
app = typer.Typer(
    cls=LazyGroup,
    help="Level-3 (TCVN 11930:2017 / TCVN 14423:2026) compliance auditor.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log library details (never secrets) to stderr.")] = False,
) -> None:
    if version:
        print(f"auditor {__version__}")
        raise typer.Exit(0)
    # paramiko logs every failed handshake with a traceback; per-host errors are reported as
    # findings instead, so its chatter is only shown with --debug.
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("paramiko").setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # answered before the option machinery (which loads pydantic) starts
        print(f"auditor {__version__}")
        return
    sys.exit(run())


def run(args: list[str] | None = None) -> int:
    """The exit code of one invocation. Click's own usage errors (unknown option, missing argument, a value not
    among the choices) are printed like every other error and exit 3, the code documented for bad usage."""
    # Typer ships click or its own copy of it: the exception classes come from wherever its BadParameter lives.
    click_errors: Any = sys.modules[typer.BadParameter.__module__]
    try:
        code = app(args=args, prog_name="auditor", standalone_mode=False)  # also when started as python -m
    except click_errors.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group named alone: its help, as a usage error
            exc.show()
            return 3
        _print_error(args, exc.format_message(), exc.ctx.command_path if exc.ctx else None)
        return 3
    except click_errors.ClickException as exc:  # e.g. a file option that cannot be opened
        _print_error(args, exc.format_message())
        return 3
    except typer.Abort:  # end of input at a prompt, or a prompt refused
        _print_error(args, None)
        return 130
    return code if isinstance(code, int) else 0


def _print_error(args: list[str] | None, message: str | None, command: str | None = None) -> None:
    """The style of auditor.cli.common.errors_to_exit, without importing the command modules' dependencies; in the
    language of help (``--lang`` when it is among the arguments and valid, else AUDITOR_LANG, else Vietnamese), with
    the framework's message translated. ``None`` says the run was aborted."""
    from rich.console import Console
    from rich.text import Text

    from auditor.cli.framework_words import translate
    from auditor.cli.help_words import help_lang
    from auditor.cli.words import Lang, Words

    told = Words(Lang(help_lang(list(sys.argv[1:] if args is None else args))))
    text = told("aborted") if message is None else translate(message) if told.lang is Lang.vi else message
    if command is not None:
        text += told("see_help", command=command)
    Console(stderr=True, highlight=False).print(Text(f"{told('error_prefix')}: {text}", style="red"))
