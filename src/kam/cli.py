"""The `kam` command: serve, demo, migrate, createuser, import, export, check."""

import argparse
import getpass
import os
import sys


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings")
    import django

    django.setup()


def cmd_migrate(args) -> int:
    from django.core.management import call_command

    from kam.core.db import analyze

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    analyze()  # SQLite plans without statistics otherwise (the list filters and scopes need them)
    return 0


def cmd_serve(args) -> int:
    """Migrate, then run gunicorn (a production-grade WSGI server), not Django's runserver."""
    from django.conf import settings

    cmd_migrate(args)
    workers = args.workers or int(os.environ.get("KAM_WORKERS", "0")) or min(4, (os.cpu_count() or 1) * 2)
    print(f"KAM serving on http://{args.host}:{args.port}/ (data: {settings.DATA_DIR})", flush=True)
    argv = [
        sys.executable, "-m", "gunicorn", "kam.wsgi:application",
        "--bind", f"{args.host}:{args.port}",
        "--workers", str(workers),
        "--threads", os.environ.get("KAM_THREADS", "4"),
        "--access-logfile", os.environ.get("KAM_ACCESS_LOG", "-"),
        "--timeout", "120",
        "--forwarded-allow-ips", os.environ.get("KAM_FORWARDED_ALLOW_IPS", "127.0.0.1"),
    ]  # fmt: skip
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with gunicorn
    return 0


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

    p = sub.add_parser("serve", help="migrate, then serve the app with gunicorn")
    p.add_argument("--host", default=os.environ.get("KAM_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("KAM_PORT", "8000")))
    p.add_argument("--workers", type=int, default=0)
    p.set_defaults(func=cmd_serve)

    sub.add_parser("migrate", help="create or update the database tables").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load demo data into an empty database").set_defaults(func=cmd_demo)

    p = sub.add_parser("createuser", help="create a user (password from KAM_PASSWORD or a prompt)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=Role.values)
    p.add_argument("--department", required=True, help='department name, or a path "总公司/华东分公司/大客户部"')
    p.add_argument("--scope", choices=DataScope.values, help="defaults by role")
    p.add_argument("--name", help="display name")
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("import", help="import accounts or contacts from xlsx or csv (all or nothing)")
    p.add_argument("file")
    p.add_argument("--entity", required=True, choices=["accounts", "contacts"])
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
