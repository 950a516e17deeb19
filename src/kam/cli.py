"""The `kam` command: serve, worker, demo, migrate, createuser, import, export, check."""

import argparse
import contextlib
import getpass
import os
import signal
import subprocess
import sys
import time


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings")
    import django

    django.setup()


def cmd_migrate(args) -> int:
    from django.core.management import call_command

    from kam.core.db import analyze
    from kam.core.jobs import schedules_sync

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    analyze()  # SQLite plans without statistics otherwise (the list filters and scopes need them)
    schedules_sync()  # the schedules declared in code (each app's jobs.py)
    return 0


def cmd_serve(args) -> int:
    """Migrate, then run gunicorn (a production-grade WSGI server, not Django's runserver) and, unless
    turned off, a background worker next to it; both stop together."""
    from django.conf import settings

    from kam.settings import env_bool

    cmd_migrate(args)
    with_worker = args.worker if args.worker is not None else env_bool("KAM_SERVE_WORKER", True)
    workers = args.workers or int(os.environ.get("KAM_WORKERS", "0")) or min(4, (os.cpu_count() or 1) * 2)
    jobs = "on" if with_worker else "off (run `kam worker`)"
    print(f"KAM serving on http://{args.host}:{args.port}/ (data: {settings.DATA_DIR}; background jobs: {jobs})",
          flush=True)  # fmt: skip
    gunicorn = [
        sys.executable, "-m", "gunicorn", "kam.wsgi:application",
        "--bind", f"{args.host}:{args.port}",
        "--workers", str(workers),
        "--threads", os.environ.get("KAM_THREADS", "4"),
        "--access-logfile", os.environ.get("KAM_ACCESS_LOG", "-"),
        "--timeout", "120",
        "--forwarded-allow-ips", os.environ.get("KAM_FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]  # fmt: skip
    if not with_worker:
        os.execv(sys.executable, gunicorn)  # noqa: S606 - replace this process with gunicorn
    worker = [sys.executable, "-m", "kam.cli", *(["--verbose"] if args.verbose else []), "worker"]
    return run_together({"gunicorn": gunicorn, "worker": worker})


STOP_GRACE_SECONDS = 30  # then a child that has not stopped is killed (a job it ran is delivered again)


def run_together(commands: dict[str, list[str]]) -> int:
    """Run the commands (by name) as child processes and stop them together.

    SIGTERM and SIGINT are passed on to every child. When a child ends by itself the others are
    stopped (SIGTERM) and the exit status is non-zero: a server without its worker, or the reverse,
    is not left running half. Each child leads its own process group, so a terminal's Ctrl-C reaches
    it once, through us, and a child that outlives the grace period is killed with everything it
    started; on Linux a child also gets SIGTERM if we die without the chance to pass anything on.
    """
    children: dict[str, subprocess.Popen] = {}
    stop_signals: list[int] = []

    def forward(signum, frame):
        stop_signals.append(signum)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    ended: list[str] = []
    try:
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, process_group=0, preexec_fn=_terminate_with_parent)  # noqa: S603 - our own argv
        while not stop_signals:  # a child that ends after we passed a signal on was told to
            ended = [name for name, child in children.items() if child.poll() is not None]
            if ended:
                break
            time.sleep(0.2)
        if ended and not stop_signals:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for child in children.values():
            with contextlib.suppress(ProcessLookupError):  # the group is gone when everything in it ended
                os.killpg(child.pid, signal.SIGKILL)  # what is left of it: late, or orphaned by its leader
            child.wait()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stop_signals and not ended:
        return 0 if all(child.returncode == 0 for child in children.values()) else 1
    code = children[ended[0]].returncode
    print(f"kam: {ended[0]} ended (status {code}); stopped the others.", file=sys.stderr)
    return code if code > 0 else 1


def _terminate_with_parent() -> None:
    """In a child before exec: ask Linux for SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def cmd_worker(args) -> int:
    """Run the background jobs (django-q2's cluster) in the foreground until SIGTERM or SIGINT.

    The cluster forks its worker processes and handles the signals itself (in this, the main thread):
    it stops taking jobs and lets the running ones finish.
    """
    import logging

    from django import db
    from django.conf import settings
    from django_q.cluster import Cluster
    from django_q.scheduler import scheduler

    if args.verbose:
        logging.getLogger("django-q").setLevel(logging.INFO)
    broker = "Redis" if settings.Q_CLUSTER.get("redis") else "database"
    print(f"KAM worker: {settings.Q_CLUSTER['workers']} processes, {broker} queue", flush=True)
    scheduler()  # schedules already due are queued now, not at the cluster's first round 30 s in
    db.connections.close_all()  # the cluster forks: no child may share this process's connection
    cluster = Cluster()
    cluster.start()
    cluster.sentinel.join()
    return 0 if cluster.sentinel.exitcode == 0 else 1


def cmd_demo(args) -> int:
    from kam.demo import load_demo

    cmd_migrate(args)
    return load_demo(stdout=sys.stdout)


def cmd_createuser(args) -> int:
    from django.core.exceptions import ValidationError

    from kam.org import services

    password = os.environ.get("KAM_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            print("Set KAM_PASSWORD or run in a terminal to type the password.", file=sys.stderr)
            return 2
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            print("The passwords differ.", file=sys.stderr)
            return 2
    try:
        department = services.department_get_or_create_path(actor=None, names=args.department.split("/"))
        user = services.user_create(actor=None, username=args.username, password=password, role=args.role,
                                    department=department, data_scope=args.scope, display_name=args.name or "")  # fmt: skip
    except ValidationError as e:
        for field, messages in getattr(e, "message_dict", {"": e.messages}).items():
            print(f"{field}: {' '.join(messages)}", file=sys.stderr)
        return 2
    print(f"Created {user.username} ({user.role}, scope {user.data_scope}) in {department.name}.")
    return 0


def cmd_import(args) -> int:
    from kam.accounts.imports import run_import_command

    if args.entity == "sales":  # ERP sales lines (issue 3): all or nothing, already recorded lines skipped
        from kam.sales.imports import run_import_command as run_sales_import

        return run_sales_import(path=args.file, username=args.user)
    return run_import_command(path=args.file, entity=args.entity, username=args.user, on_duplicate=args.on_duplicate,
                              report=args.report)  # fmt: skip


def cmd_export(args) -> int:
    from kam.accounts.imports import run_export_command

    return run_export_command(entity=args.entity, username=args.user, output=args.output, fmt=args.format)


def cmd_check(args) -> int:
    """Configuration sanity: Django's checks (deploy checks with KAM_HTTPS), database, data directory."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    problems = 0
    try:
        call_command("check", deploy=settings.HTTPS, fail_level="WARNING")
    except SystemExit:
        problems += 1
    except Exception as e:  # noqa: BLE001 - report any check failure plainly
        print(f"check: {e}", file=sys.stderr)
        problems += 1
    try:
        connection.ensure_connection()
        print(f"database: {connection.vendor} OK")
    except Exception as e:  # noqa: BLE001
        print(f"database: cannot connect: {e}", file=sys.stderr)
        problems += 1
    if os.access(settings.DATA_DIR, os.W_OK):
        print(f"data directory: {settings.DATA_DIR} writable")
    else:
        print(f"data directory: {settings.DATA_DIR} is not writable", file=sys.stderr)
        problems += 1
    if settings.DEBUG:
        print("warning: KAM_DEBUG is on; turn it off in production", file=sys.stderr)
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    from kam.org.models import DataScope, Role

    parser = argparse.ArgumentParser(prog="kam", description="KAM — key account management (大客户管理系统)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="migrate, then serve the app with gunicorn and run background jobs")
    p.add_argument("--host", default=os.environ.get("KAM_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("KAM_PORT", "8000")))
    p.add_argument("--workers", type=int, default=0, help="gunicorn worker processes")
    p.add_argument("--worker", action=argparse.BooleanOptionalAction, default=None,
                   help="run a background worker next to the server (default: KAM_SERVE_WORKER, true)")  # fmt: skip
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run queued and scheduled background jobs until stopped")
    p.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="create or update the database tables").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load demo data into an empty database").set_defaults(func=cmd_demo)

    p = sub.add_parser("createuser", help="create a user (password from KAM_PASSWORD or a prompt)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=Role.values)
    p.add_argument("--department", required=True, help='department name, or a path "总公司/华东分公司/大客户部"')
    p.add_argument("--scope", choices=DataScope.values, help="defaults by role")
    p.add_argument("--name", help="display name")
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("import", help="import accounts, contacts or sales lines from xlsx or csv (all or nothing)")
    p.add_argument("file")
    p.add_argument("--entity", required=True, choices=["accounts", "contacts", "sales"])
    p.add_argument("--user", help="act as this user (default: the first administrator)")
    p.add_argument("--on-duplicate", default="stop", choices=["skip", "update", "stop"])
    p.add_argument("--report", help="write the failed rows with an error column to this xlsx file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export accounts or contacts to xlsx or csv (logged)")
    p.add_argument("--entity", required=True, choices=["accounts", "contacts"])
    p.add_argument("--user", help="export what this user may see (default: the first administrator)")
    p.add_argument("--output", "-o", help="file to write (default: stdout for csv)")
    p.add_argument("--format", default="csv", choices=["csv", "xlsx"])
    p.set_defaults(func=cmd_export)

    sub.add_parser("check", help="check the configuration").set_defaults(func=cmd_check)
    return parser


def main(argv=None) -> int:
    _setup_django()
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
