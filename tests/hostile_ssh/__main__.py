"""``python -m tests.hostile_ssh serve --workdir DIR``: make the fleet's keys, bind its ports, write
``DIR/fleet.json`` once everything is ready, and serve until SIGTERM. ``replay --workdir DIR --recording
FILE --hosts N``: the same for N hosts answering from a recorded host (``DIR/replay.json``)."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import sys
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.hostile_ssh.fleet import ADDRESS, DEFAULT_FLOOD_BYTES, FLEET_FILE, LOG_FILE, USER, Behaviour, Fleet
from tests.hostile_ssh.replay import REPLAY_FILE, Recording, ReplayFleet, ReplayStream
from tests.hostile_ssh.server import FleetKeys, FleetServer
from tests.hostile_ssh.sessions import Session, finish, read_stdin

log = logging.getLogger("hostile_ssh")


def _write_private_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None = None) -> None:
    """OpenSSH format, mode 0600 from the start."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)


def _new_host_key(path: Path) -> paramiko.PKey:
    _write_private_key(path, Ed25519PrivateKey.generate())
    return paramiko.PKey.from_path(path)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _fleet_keys(workdir: Path) -> tuple[FleetKeys, Path, Path, str]:
    """Fresh keys in ``workdir``: the fleet's keys, the client key file, its encrypted twin, the passphrase."""
    passphrase = secrets.token_urlsafe(18)
    client = Ed25519PrivateKey.generate()
    client_key_file = workdir / "client_ed25519"
    encrypted_client_key_file = workdir / "client_ed25519_encrypted"
    _write_private_key(client_key_file, client)
    _write_private_key(encrypted_client_key_file, client, passphrase.encode())
    keys = FleetKeys(
        host=_new_host_key(workdir / "host_ed25519"),
        impostor=_new_host_key(workdir / "impostor_host_ed25519"),
        client=paramiko.PKey.from_path(client_key_file),
    )
    return keys, client_key_file, encrypted_client_key_file, passphrase


def _serve_until_signalled(server: FleetServer, workdir: Path, ready_file: str, description: str) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: server.stop.set())
    _write_atomically(workdir / ready_file, description)  # last: its presence means "ready"
    server.serve_forever()
    log.info("stopped")


def serve(workdir: Path, behaviours: list[Behaviour], flood_bytes: int) -> None:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    keys, client_key_file, encrypted_client_key_file, passphrase = _fleet_keys(workdir)
    listeners = {behaviour: socket.create_server((ADDRESS, 0), backlog=64) for behaviour in behaviours}
    ports = {behaviour: listener.getsockname()[1] for behaviour, listener in listeners.items()}
    known_hosts = workdir / "known_hosts"
    host_key = f"{keys.host.get_name()} {keys.host.get_base64()}"
    _write_atomically(known_hosts, "".join(f"[{ADDRESS}]:{port} {host_key}\n" for port in ports.values()))
    fleet = Fleet(
        ports=ports,
        user=USER,
        client_key_file=client_key_file,
        encrypted_client_key_file=encrypted_client_key_file,
        passphrase=passphrase,
        known_hosts=known_hosts,
        flood_bytes=flood_bytes,
        log_file=workdir / LOG_FILE,
        server_pid=os.getpid(),
    )
    server = FleetServer(listeners.items(), keys, flood_bytes)
    log.info("serving %s", ", ".join(f"{behaviour.value}={port}" for behaviour, port in ports.items()))
    _serve_until_signalled(server, workdir, FLEET_FILE, fleet.to_json())


def serve_replay(workdir: Path, recording: Path, hosts: int, target_ms: float) -> None:
    """``hosts`` honest ports, each answering the collector's script from ``recording`` (nothing runs)."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stream = ReplayStream(Recording.load(recording))
    keys, client_key_file, _, _ = _fleet_keys(workdir)
    listeners = [socket.create_server((ADDRESS, 0), backlog=128) for _ in range(hosts)]
    fleet = ReplayFleet(
        address=ADDRESS,
        ports=tuple(listener.getsockname()[1] for listener in listeners),
        user=USER,
        client_key_file=client_key_file,
        host_key_line=f"{keys.host.get_name()} {keys.host.get_base64()}",
        log_file=workdir / LOG_FILE,
        server_pid=os.getpid(),
    )

    def replay(session: Session) -> None:
        script = read_stdin(session.channel)
        if session.stop.wait(target_ms / 1000):
            return
        stdout, stderr, status = stream.answer(script)
        session.channel.sendall(stdout)
        session.channel.sendall_stderr(stderr)
        finish(session.channel, status)

    server = FleetServer([(Behaviour.HONEST, listener) for listener in listeners], keys, 0, {Behaviour.HONEST: replay})
    log.info("replaying %s for %d hosts on ports %d..%d", recording, hosts, fleet.ports[0], fleet.ports[-1])
    _serve_until_signalled(server, workdir, REPLAY_FILE, fleet.to_json())


def _behaviour_list(text: str) -> list[Behaviour]:
    try:
        chosen = [Behaviour(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; known: {', '.join(b.value for b in Behaviour)}") from None
    if not chosen or len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError("name each behaviour once, at least one")
    return chosen


def _byte_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile_ssh", description="A fleet of hostile SSH servers.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("serve", help="serve a fleet on 127.0.0.1 until SIGTERM")
    command.add_argument("--workdir", type=Path, required=True, help="keys, known_hosts and fleet.json go here")
    command.add_argument("--flood-bytes", type=_byte_count, default=DEFAULT_FLOOD_BYTES, help="size of each flood")
    command.add_argument(
        "--behaviours", type=_behaviour_list, default=list(Behaviour), help="comma-separated (default: all)"
    )
    command = commands.add_parser("replay", help="serve hosts replaying a recorded host until SIGTERM")
    command.add_argument("--workdir", type=Path, required=True, help="keys and replay.json go here")
    command.add_argument("--recording", type=Path, required=True, help="a recorded host (JSON)")
    command.add_argument("--hosts", type=int, required=True, help="how many hosts (one port each)")
    command.add_argument("--target-ms", type=float, default=0.0, help="time each host takes before it answers")
    args = parser.parse_args(argv)
    # A replay fleet logs only what goes wrong: a thousand hosts' connections would fill its log.
    level = logging.WARNING if args.command == "replay" else logging.INFO
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    if args.command == "replay":
        serve_replay(args.workdir, args.recording, args.hosts, args.target_ms)
    else:
        serve(args.workdir, args.behaviours, args.flood_bytes)


if __name__ == "__main__":
    main()
