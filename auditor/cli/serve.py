"""`auditor serve`: the portal, over the same store and audit service as the command line."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import (
    DEFAULT_DB_URL,
    ContentDirOption,
    DbOption,
    InventoryOption,
    KnownHostsOption,
    err_console,
    errors_to_exit,
)
from auditor.errors import ConfigError

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
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="Do not run schedules in this process.")] = False,
    allow_root: Annotated[bool, typer.Option("--allow-root", help="Run as root anyway (not recommended).")] = False,
) -> None:
    """Serve the portal: the officer, the department and each agency, over HTTPS or behind a proxy."""
    from auditor.settings import default_known_hosts

    with errors_to_exit():
        if os.geteuid() == 0 and not allow_root:
            raise ConfigError(
                "the portal is a network service: run it as its own user (deploy/auditor-portal.service), not root"
            )
        if (tls_cert is None) != (tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        tls = tls_cert is not None
        if not tls and not behind_proxy and not ipaddress.ip_address(_resolve(host)).is_loopback:
            raise ConfigError("plain HTTP only on a loopback address: give --tls-cert/--tls-key, or --behind-proxy")
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
        )
        application = create_app(config, workers=default_workers(config), tls=tls)
        scheme = "https" if tls else "http"
        err_console.print(f"portal on {scheme}://{host}:{port}/ (database {db})")
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
