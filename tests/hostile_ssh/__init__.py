"""A fleet of misbehaving SSH servers on loopback, one behaviour per port, for testing the collector.

Scheduled audits run unattended against servers the auditor does not control; some are broken, some
compromised. This package plays all of them at once::

    python -m tests.hostile_ssh serve --workdir DIR [--flood-bytes N] [--behaviours a,b,...]

binds one listening socket per :class:`Behaviour` on 127.0.0.1, writes ``DIR/fleet.json`` (a
:class:`Fleet`) when it is ready and serves until SIGTERM. Tests use :func:`hostile_fleet`, which runs
that command in its own process, so that the auditor's memory and CPU can be measured apart from the
server's.

Every fleet gets fresh Ed25519 keys in its workdir: the host key (recorded in ``known_hosts`` for
every port), an impostor host key (presented by ``changed_host_key`` only) and the one client key
allowed to log in as ``Fleet.user``, written once unencrypted and once encrypted with
``Fleet.passphrase``. The honest behaviour really runs what it receives, as the user running the
fleet: the listening sockets are on loopback only and nothing but the fleet's own key logs in.

Modules: ``fleet`` (the behaviours, the fleet's description, the context manager), ``server`` (the
listening sockets, paramiko's server side, the behaviours that act before or instead of an exec),
``sessions`` (what happens once an exec request is accepted), ``streams`` (the byte manipulations:
floods, cuts, poisoned and forged records; pure functions) and ``__main__`` (the command line).
"""

from tests.hostile_ssh.fleet import DEFAULT_FLOOD_BYTES, Behaviour, Fleet, hostile_fleet
from tests.hostile_ssh.sessions import DRIP_INTERVAL_S
from tests.hostile_ssh.streams import FORGED_OUTPUT, FORGED_UNKNOWN_ID, POISON

__all__ = [
    "DEFAULT_FLOOD_BYTES",
    "DRIP_INTERVAL_S",
    "FORGED_OUTPUT",
    "FORGED_UNKNOWN_ID",
    "POISON",
    "Behaviour",
    "Fleet",
    "hostile_fleet",
]
