"""`auditor serve`: the portal, over the same store and audit service as the command line."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    InventoryOption,
    KnownHostsOption,
    LangOption,
    err_console,
    errors_to_exit,
)
from auditor.errors import ConfigError

if TYPE_CHECKING:
    from auditor.cli.words import Words
    from auditor.mail.settings import MailSettings

app = typer.Typer()


def default_secret_file() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "auditor" / "portal.key"


@app.command()
def serve(
    inventory: InventoryOption,
    db: DbOption = DEFAULT_DB_URL,
    known_hosts: KnownHostsOption = None,
    content_dir: ContentDirOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", exists=True, dir_okay=False, help="Serve HTTPS: certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", exists=True, dir_okay=False, help="Serve HTTPS: private key (PEM).")
    ] = None,
    behind_proxy: Annotated[
        bool, typer.Option("--behind-proxy", help="A TLS reverse proxy in front (deploy/): trust X-Forwarded-For.")
    ] = False,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            envvar="AUDITOR_PORTAL_SECRET_FILE",
            help="Cookie-signing secret (made 0600 on first start).",
        ),
    ] = None,
    trust_ca: Annotated[
        Path | None,
        typer.Option("--trust-ca", exists=True, dir_okay=False, help="Extra CA file trusted for TLS by its audits."),
    ] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not run schedules in this process.")] = False,
    allow_root: Annotated[bool, typer.Option("--allow-root", help="Run as root anyway (not recommended).")] = False,
    smtp_host: Annotated[
        str | None, typer.Option("--smtp-host", help="Send mail (reports, summary, reminders) through this server.")
    ] = None,
    smtp_port: Annotated[int | None, typer.Option("--smtp-port", min=1, max=65535, help="SMTP port [587].")] = None,
    smtp_user: Annotated[str | None, typer.Option("--smtp-user", help="SMTP login (with --smtp-password-env).")] = None,
    smtp_password_env: Annotated[
        str | None,
        typer.Option("--smtp-password-env", help="NAME of the environment variable holding the SMTP password."),
    ] = None,
    smtp_no_starttls: Annotated[
        bool, typer.Option("--smtp-no-starttls", help="Send without STARTTLS (a local relay only).")
    ] = False,
    smtp_ca_file: Annotated[
        Path | None,
        typer.Option("--smtp-ca-file", exists=True, dir_okay=False, help="Trust this CA (PEM) for STARTTLS."),
    ] = None,
    mail_from: Annotated[str | None, typer.Option("--mail-from", help="From address of the portal's mail.")] = None,
    department_email: Annotated[
        list[str] | None, typer.Option("--department-email", help="Receives the summary after runs (repeatable).")
    ] = None,
    portal_url: Annotated[
        str | None, typer.Option("--portal-url", help="The portal's public address, for links in mails.")
    ] = None,
    reporting_day: Annotated[
        str | None, typer.Option("--reporting-day", help="Yearly reporting date, MM-DD [11-25].")
    ] = None,
    reminder_days: Annotated[
        int | None,
        typer.Option("--reminder-days", min=1, max=120, help="Remind agencies with open items this early [14]."),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Serve the portal: the officer, the department and each agency, over HTTPS or behind a proxy."""
    from auditor.settings import default_known_hosts

    with errors_to_exit(lang) as words:
        if os.geteuid() == 0 and not allow_root:
            raise ConfigError(words("serve_not_root"))
        if (tls_cert is None) != (tls_key is None):
            raise ConfigError(words("serve_tls_pair"))
        tls = tls_cert is not None
        if not tls and not behind_proxy and not ipaddress.ip_address(_resolve(host)).is_loopback:
            raise ConfigError(words("serve_plain_http"))
        mail = _mail_settings(
            words,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            username=smtp_user,
            password_env=smtp_password_env,
            starttls=not smtp_no_starttls,
            tls_ca_file=smtp_ca_file,
            sender=mail_from,
            department_to=tuple(department_email or ()),
            portal_url=portal_url,
            reporting_day=reporting_day,
            reminder_days=reminder_days,
        )
        import uvicorn

        from auditor.portal.app import create_app
        from auditor.portal.config import PortalConfig
        from auditor.portal.workers import default_workers

        config = PortalConfig(
            db_url=db,
            inventory=inventory,
            known_hosts=known_hosts or default_known_hosts(),
            secret_file=secret_file or default_secret_file(),
            content_dirs=tuple(content_dir or ()),
            secure_cookies=tls or behind_proxy,
            trust_proxy=behind_proxy,
            scheduler=not no_scheduler,
            trust_ca=trust_ca,
            mail=mail,
        )
        application = create_app(config, workers=default_workers(config), tls=tls)
        scheme = "https" if tls else "http"
        err_console.print(words("serve_listening", url=f"{scheme}://{host}:{port}/", db=db), markup=False)
    uvicorn.run(
        application,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        proxy_headers=behind_proxy,
        server_header=False,
        log_level="warning",
    )


def _resolve(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _mail_settings(words: Words, **given: Any) -> MailSettings | None:
    """Mail is on when --smtp-host and --mail-from are given; the other mail options need them."""
    if given["smtp_host"] is None and given["sender"] is None:
        extra = [name for name, value in given.items() if value not in (None, (), True)]
        if extra:
            raise ConfigError(words("serve_mail_needs_server"))
        return None
    if given["smtp_host"] is None or given["sender"] is None:
        raise ConfigError(words("serve_mail_pair"))
    from pydantic import ValidationError

    from auditor.mail.settings import MailSettings

    try:
        settings = MailSettings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mail'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(words("serve_mail_options", problems=problems)) from None
    if settings.password_env is not None and not os.environ.get(settings.password_env):
        raise ConfigError(words("serve_password_env_unset", name=settings.password_env))
    return settings
