"""``python -m ivmsim --fleet FILE --state DIR [--port N] [--time-scale X] [--seed S] [--ready-file PATH]``."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
import threading
from pathlib import Path

from ivmsim.fleetfile import FleetError, load_fleet
from ivmsim.sshserver import USER, IvmListener
from ivmsim.store import StateDir, atomic_write
from ivmsim.world import World


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ivmsim", description="A simulated IBM IVM fleet behind real SSH.")
    p.add_argument("--fleet", required=True, help="fleet file (TOML, see ivmsim/FLEET.md)")
    p.add_argument("--state", required=True, help="state directory (created if missing)")
    p.add_argument("--port", type=int, default=2222, help="SSH port for every IVM (0 = pick a free one)")
    p.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--seed", type=int, default=0, help="seed for the simulator's randomness")
    p.add_argument("--ready-file", help="write a JSON description of the running fleet here once it listens")
    p.add_argument("--addresses-from", default="127.0.1.1", help="address of the first IVM (loopback, or private in a network namespace of its own)")
    return p


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    if opts.time_scale <= 0:
        print("ivmsim: --time-scale must be greater than zero", file=sys.stderr)
        return 2
    try:
        fleet = load_fleet(opts.fleet)
        first = ipaddress.IPv4Address(opts.addresses_from)
    except (FleetError, ValueError) as exc:
        print(f"ivmsim: {exc}", file=sys.stderr)
        return 2
    # Loopback, or a private address (a test's network namespace of its own, tests/deploy): a simulated IVM with a
    # known password is never offered on a routable network.
    if not (first.is_loopback or first.is_private) or first.is_link_local or first.is_unspecified:
        print("ivmsim: --addresses-from must be a loopback or private address", file=sys.stderr)
        return 2
    state = StateDir(opts.state)
    try:
        world = World(fleet, state, time_scale=opts.time_scale, seed=opts.seed)
    except ValueError as exc:
        print(f"ivmsim: {exc}", file=sys.stderr)
        return 2

    listeners: dict[str, IvmListener] = {}
    port = opts.port
    try:
        for i, ivm in enumerate(world.systems):
            address = str(first + i)
            listener = IvmListener(world, ivm, address, port)
            port = listener.port  # --port 0: the first IVM picks, the others reuse its number
            listeners[ivm] = listener
            world.systems[ivm].address = address
    except OSError as exc:
        print(f"ivmsim: cannot listen: {exc}", file=sys.stderr)
        for listener in listeners.values():
            listener.close()
        return 1
    world.drop_connections = lambda ivm: listeners[ivm].drop_all()
    world.rotate_host_key = lambda ivm: listeners[ivm].rotate_host_key()
    with world.lock:
        world.persist()
    for listener in listeners.values():
        listener.serve_forever()
    world.run_scheduler()

    ready = {"pid": os.getpid(), "port": port, "ivms": []}
    for ivm, listener in listeners.items():
        system = world.systems[ivm]
        print(f"{ivm} {listener.address} {listener.port} {listener.fingerprint}", flush=True)
        ready["ivms"].append({"name": ivm, "system": system.name, "host": listener.address, "port": listener.port,
                              "user": USER, "password": system.password, "host_key": listener.host_key_line(),
                              "fingerprint": listener.fingerprint})
    if opts.ready_file:
        atomic_write(Path(opts.ready_file), json.dumps(ready, indent=1))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    if not world.stop():
        print("ivmsim: stopping without saving the state: the world lock stayed held", file=sys.stderr)
    for listener in listeners.values():
        listener.close()
    return 0
