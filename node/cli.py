"""The ``hyperpeer`` command line. This module (with ``node.main``) is the only place that reads the
environment, configures logging and calls ``trio.run``.

Subcommands:

* ``node`` — run a node: ``hyperpeer node [--config FILE] [--host H] [--port P] [--data-dir D]``.
  The config file comes from ``--config``, else ``HYPERPEER_CONFIG``, else the built-in defaults;
  flags (and ``--set key=value``) override it. When listening it prints one JSON line
  ``{"event": "listening", "url": ..., "port": ..., "address": ...}`` on stdout (so ``--port 0``
  callers learn the port), plus ``peer_id`` and ``p2p`` (full multiaddrs) when peering runs.

Other subcommands (``verify``, ``subscribe`` ...) register themselves in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from node._config import load_config
from node._errors import ConfigError, NodeError
from node._server import Running, run_node, wait_for_signals
from node._subscribe_cli import add_subscribe_parser
from node._verify import add_verify_parser

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger("hyperpeer")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _add_node(sub: Any) -> None:
    p = sub.add_parser("node", help="run a node")
    p.add_argument("--config", help="TOML or JSON config file (default: $HYPERPEER_CONFIG)")
    p.add_argument("--host", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port (default 8734; 0 = ephemeral)")
    p.add_argument("--data-dir", help="directory for the store and the wallet")
    p.add_argument("--wallet", help="wallet JWK path (default <data-dir>/wallet.json)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key by dotted name, e.g. p2p.listen=/ip4/127.0.0.1/tcp/0 "
                        "(lists are comma-separated); repeatable")
    p.set_defaults(run=_run_node)


def _run_node(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    if args.host is not None:
        overrides["http.host"] = args.host
    if args.port is not None:
        overrides["http.port"] = args.port
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir
    if args.wallet is not None:
        overrides["wallet_path"] = args.wallet
    config = load_config(args.config or os.environ.get("HYPERPEER_CONFIG") or None, overrides)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                partial(run_node, config, shutdown_trigger=wait_for_signals)
            )
            line = {"event": "listening", "url": running.url, "port": running.port,
                    "address": running.node.wallet.address}
            if running.peer_id is not None:
                line.update({"peer_id": running.peer_id, "p2p": running.p2p_addrs})
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()

    trio.run(main)
    sys.stdout.write(json.dumps({"event": "stopped"}) + "\n")
    sys.stdout.flush()
    return 0


# name -> function adding the subparser (it sets ``run`` to a callable taking the parsed args).
SUBCOMMANDS: dict[str, Callable[[Any], None]] = {
    "node": _add_node,
    "verify": add_verify_parser,
    "subscribe": add_subscribe_parser,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hyperpeer", description="AO-Core peer node")
    parser.add_argument("--log-level", default=os.environ.get("HYPERPEER_LOG", "info"))
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS.values():
        add(sub)
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    try:
        code: int = args.run(args)
    except NodeError as exc:
        log.exception("%s", exc.reason)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
