"""`auditor worker --zone Z`: collect for one network zone, inside it, with that zone's keys only."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import err_console, errors_to_exit
from auditor.errors import ConfigError

app = typer.Typer()


@app.command()
def worker(
    zone: Annotated[str, typer.Option("--zone", help="The zone this worker collects (its queue: zone.<name>).")],
    config: Annotated[
        Path,
        typer.Option(
            "--config", exists=True, dir_okay=False, help="The zone file: the zone's known-hosts file and SSH keys."
        ),
    ],
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            envvar="AUDITOR_BROKER_URL",
            help="redis://HOST:PORT/DB or rediss:// (TLS); the password comes from AUDITOR_BROKER_PASSWORD.",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Hosts collected at once.")] = 8,
    visibility_timeout: Annotated[
        float, typer.Option(min=60, help="Seconds before a task of a lost worker goes back to the queue.")
    ] = 3600.0,
) -> None:
    """Collect the hosts of one zone for the central audit service; the observations go back, nothing is stored."""
    from auditor.foreign import foreign
    from auditor.zones.broker import broker_url, make_app, redacted
    from auditor.zones.payload import queue_name
    from auditor.zones.tasks import register_collect_task
    from auditor.zones.worker_config import load_zone_config

    with errors_to_exit():
        zone_config = load_zone_config(config)
        if zone_config.zone != zone:
            raise ConfigError(foreign("worker_zone_mismatch", config=config, actual=zone_config.zone, zone=zone))
        url = broker_url(broker)
        celery_app = make_app(url, visibility_timeout_s=visibility_timeout, worker_enable_remote_control=False)
        register_collect_task(celery_app, zone_config)
    logging.getLogger().setLevel(logging.INFO)  # a service's log: which task came, which host was collected
    logging.getLogger("paramiko").setLevel(logging.CRITICAL + 1)  # per-host failures go back as outcomes
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # it would log each outcome: the hosts' output
    err_console.print(f"zone {zone}: collecting from queue {queue_name(zone)} on {redacted(url)}")
    celery_worker = celery_app.Worker(
        hostname=f"zone-{zone}@{socket.gethostname()}",
        queues=[queue_name(zone)],
        pool_cls="threads",  # collection waits on SSH: threads, like the central pool
        concurrency=concurrency,
        loglevel="INFO",
        without_gossip=True,
        without_mingle=True,
        quiet=True,
    )
    celery_worker.start()
    raise typer.Exit(celery_worker.exitcode or 0)
