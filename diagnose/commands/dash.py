"""``diagnose dash``: open the dashboard over a runs directory (local only unless told otherwise)."""
from __future__ import annotations

import ipaddress
import socket
import sys

ORDER = 60
HELP = "open the web dashboard over a runs directory (curves, flags, samples, comparisons)"


def add_parser(sub) -> None:
    p = sub.add_parser("dash", help=HELP, description=HELP)
    p.add_argument("--runs", default="runs", help="the runs root to browse (default: runs)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--refresh-ms", type=int, default=2000,
                   help="how often open pages check their runs for new data (default 2000)")
    p.add_argument("--debug", action="store_true",
                   help="Dash/Werkzeug debug mode: tracebacks in the browser and Werkzeug's "
                        "interactive console, which runs Python typed into the page; loopback "
                        "hosts only (reloader off)")
    p.add_argument("--no-evaluate", action="store_true",
                   help="hide the run page's 'Evaluate snapshots' button (which measures "
                        "checkpoints on demand and appends to the run's evals.jsonl)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Raise UserError if ``host:port`` cannot be bound (in use, or not an address of this host)."""
    from diagnose.core.errors import UserError

    if not 0 < port < 65536:
        raise UserError(f"--port {port} is not a valid port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UserError(f"--host {host!r} cannot be resolved: {e.strerror or e}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise UserError(f"port {port} on {host} is already in use; pick another with "
                                f"--port") from None
            raise UserError(f"cannot bind {host}:{port}: {e.strerror or e}") from None


def run(args):
    """Check the runs directory and the port, then serve the app until interrupted."""
    from pathlib import Path

    from diagnose.commands import Result
    from diagnose.core.errors import UserError

    root = Path(args.runs)
    if args.refresh_ms <= 0:
        raise UserError(f"--refresh-ms must be positive, got {args.refresh_ms}")
    if not root.is_dir():
        raise UserError(f"runs directory not found: {root} (train one with `diagnose run --exp "
                        f"NAME --quick`, or pass --runs)")
    if args.debug and not is_loopback(args.host):
        raise UserError(f"--debug serves Werkzeug's interactive console (it runs any Python typed "
                        f"into the page); refused on the non-loopback host {args.host!r}")
    if not is_loopback(args.host):
        print(f"warning: binding {args.host}: anyone who can reach this address can browse the "
              f"runs under {root.resolve()} (no authentication)", file=sys.stderr)
    check_port(args.host, args.port)
    from dashboards import create_app

    app = create_app(root, refresh_ms=args.refresh_ms, evaluate=not getattr(args, "no_evaluate", False))
    if args.debug:
        print("debug mode: tracebacks in the browser and Werkzeug's interactive console (runs "
              "Python typed into the page: anyone who can reach this port can run code as you)",
              file=sys.stderr)
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}/"
    print(f"dashboard for {root.resolve()} at {url} (Ctrl+C to stop)", file=sys.stderr)
    app.run(host=args.host, port=args.port, debug=args.debug, use_reloader=False)
    return Result(data={"url": url, "runs": str(root.resolve())}, text="")
