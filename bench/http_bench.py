"""Measure the JSON API through real HTTP: gunicorn serving KAM on the benchmark database.

    KAM_DATA_DIR=bench/data/sqlite .venv/bin/python bench/http_bench.py --label sqlite --out bench/out/sqlite.json

Starts gunicorn the way `kam serve` does (gthread workers; here 2 workers × 4 threads for a
2-core machine) with an access log whose format carries each request's server time (%(D)s,
microseconds), logs in through POST /api/v1/auth/token, and for each bench user and operation
sends warm-up requests, then N measured requests one after another on a keep-alive connection.
It reports, per operation, the median and p95 of the server time (from the access log: request
read → response written, inside gunicorn) and of the client time (loopback round trip).

(Named http_bench.py, not http.py: a script called http.py would shadow the standard library's
`http` package for everything it imports.)
"""

import argparse
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import BENCH_ADMIN, BENCH_HEAD, BENCH_MANAGER, BENCH_PASSWORD, setup_django  # noqa: E402

LOG_FORMAT = "%(m)s %(U)s?%(q)s %(s)s %(D)s"
CREATED_PREFIX = "深圳基准测试"
USERS = {"head": BENCH_HEAD, "admin": BENCH_ADMIN, "manager": BENCH_MANAGER}
# Targets (p95 of the server time, milliseconds): see bench/README.md.
TARGETS = {"list": 30, "detail": 30, "detail_contacts": 30, "search_fragment": 100, "search_long_fragment": 100,
           "search_initials": 100, "search_contact_name": 100, "create": 50, "timeline": 50, "home": 100,
           # issue 3 (sales): funnel and forecast pages of the whole company (admin) and of one team (the head),
           # their APIs, an account's sales history (page and API) for accounts with many lines.
           "funnel_company": 200, "funnel_team": 200, "forecast_company": 200, "forecast_team": 200,
           "funnel_company_api": 200, "funnel_team_api": 200, "forecast_company_api": 200, "forecast_team_api": 200,
           "sales_history": 50, "sales_history_api": 50}  # fmt: skip
# Operations of the web pages (session cookie) rather than the API (bearer token).
PAGE_OPERATIONS = {"home", "funnel_company", "funnel_team", "forecast_company", "forecast_team", "sales_history"}
# Operations measured for some users only: the whole company for the administrator, one team for the head.
OPERATION_USERS = {"funnel_company": {"admin"}, "forecast_company": {"admin"}, "funnel_company_api": {"admin"},
                   "forecast_company_api": {"admin"}, "funnel_team": {"head"}, "forecast_team": {"head"},
                   "funnel_team_api": {"head"}, "forecast_team_api": {"head"}}  # fmt: skip
# Issue 3's operations (`--operations sales`); left out of `all` on an archive without sales lines.
SALES_OPERATIONS = ["funnel_company", "funnel_team", "forecast_company", "forecast_team", "funnel_company_api",
                    "funnel_team_api", "forecast_company_api", "forecast_team_api", "sales_history",
                    "sales_history_api"]  # fmt: skip
# The day's reminders and cadence breaches for all users (bench/reminders_bench.py), seconds.
REMINDERS_TARGET_SECONDS = 30
# Issue 3: all monthly aggregates and statistical forecasts recomputed (seconds); sales csv import (lines/s).
RECOMPUTE_TARGET_SECONDS = 60
SALES_IMPORT_TARGET = 50_000


class Server:
    """gunicorn on a private port with an access log we can read back."""

    def __init__(self, port: int, log_path: Path, workers: int, threads: int):
        self.port = port
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        argv = [
            sys.executable, "-m", "gunicorn", "kam.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "300",
            "--access-logfile", str(log_path), "--access-logformat", LOG_FORMAT,
        ]  # fmt: skip
        self.errors = open(log_path.with_suffix(".err"), "w")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(argv, stdout=self.errors, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/regions")
                if conn.getresponse().status == 200 and self.process.poll() is None:
                    conn.close()
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log_path.with_suffix('.err')}")
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer within 60 s")

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.errors.close()


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.token = ""
        self.cookies: dict[str, str] = {}  # the web pages' session (and CSRF) cookies

    def call(self, method: str, path: str, body=None, *, form: dict | None = None) -> tuple[int, bytes, float]:
        headers = {"Host": "localhost", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Accept"] = "text/html"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed an idle keep-alive connection: reconnect once.
            self.conn.close()
            started = time.perf_counter()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        payload = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, payload, elapsed

    def login(self, username: str) -> None:
        status, payload, _ms = self.call(
            "POST", "/api/v1/auth/token", {"username": username, "password": BENCH_PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"login of {username} failed: {status} {payload[:200]!r}")
        self.token = json.loads(payload)["token"]

    def session_login(self, username: str) -> None:
        """Log in to the web pages as a browser does: the login form's CSRF token, then POST /login/."""
        status, page, _ms = self.call("GET", "/login/")
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not found or "csrftoken" not in self.cookies:
            raise RuntimeError(f"no login form for {username}: {status}")
        form = {"username": username, "password": BENCH_PASSWORD, "csrfmiddlewaretoken": found.group(1).decode()}
        status, payload, _ms = self.call("POST", "/login/", form=form)
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"session login of {username} failed: {status} {payload[:200]!r}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def dataset() -> dict:
    from django.conf import settings
    from django.db import connection

    from kam.accounts.models import Account, Contact
    from kam.engagement.models import Activity
    from kam.sales.models import Opportunity, SalesRecord

    marker = settings.DATA_DIR / "bench-generated.json"
    generated = json.loads(marker.read_text()) if marker.exists() else {}
    return {"database": connection.vendor, "accounts": Account.objects.count(), "contacts": Contact.objects.count(),
            "activities": Activity.objects.count(), "opportunities": Opportunity.objects.count(),
            "sales_lines": SalesRecord.objects.count(), "generation_seconds": generated.get("generation_seconds"),
            "activities_seconds": generated.get("activities_seconds"),
            "opportunities_seconds": generated.get("opportunities_seconds"),
            "sales_seconds": generated.get("sales_seconds")}  # fmt: skip


def sales_plan(user, n: int, rng: random.Random) -> dict:
    """Issue 3's requests for this user: funnel and forecast (the whole scope; the head's first team), and the
    sales history of the visible accounts with the most sales lines (random among the top 50)."""
    from django.db.models import Sum

    from kam.core import scopes
    from kam.org.models import Department
    from kam.sales.models import SalesMonth

    team = Department.objects.filter(parent_id=user.department_id).order_by("name", "pk").first() or user.department
    busiest = list(SalesMonth.objects.filter(account__in=scopes.visible_accounts(user)).values("account_id")
                   .annotate(lines=Sum("lines")).order_by("-lines").values_list("account_id", flat=True)[:50])  # fmt: skip
    accounts = [rng.choice(busiest) for _ in range(n)] if busiest else []
    # The funnel names its team filter `team`, the forecast `department`; both are sent (unknown ones are ignored).
    team_query = f"team={team.pk}&department={team.pk}"
    return {
        "funnel_company": [("GET", "/sales/funnel/", None)] * n,
        "funnel_team": [("GET", f"/sales/funnel/?{team_query}", None)] * n,
        "forecast_company": [("GET", "/sales/forecast/", None)] * n,
        "forecast_team": [("GET", f"/sales/forecast/?{team_query}", None)] * n,
        "funnel_company_api": [("GET", "/api/v1/opportunities/funnel", None)] * n,
        "funnel_team_api": [("GET", f"/api/v1/opportunities/funnel?{team_query}", None)] * n,
        "forecast_company_api": [("GET", "/api/v1/forecasts", None)] * n,
        "forecast_team_api": [("GET", f"/api/v1/forecasts?{team_query}", None)] * n,
        "sales_history": [("GET", f"/accounts/{pk}/sales-history/", None) for pk in accounts],
        "sales_history_api": [("GET", f"/api/v1/accounts/{pk}/sales-history", None) for pk in accounts],
    }


def plan(username: str, requests: int, warmup: int, rng: random.Random, operations=()) -> dict:
    """The requests of each operation for this user: the same shape every run."""
    from kam.accounts.models import AccountContact
    from kam.core import scopes
    from kam.demo import credit_code
    from kam.org.models import Role, User

    user = User.objects.get(username=username)
    visible = list(
        scopes.visible_accounts(user).filter(positions__isnull=False).values_list("pk", flat=True).distinct()
    )
    ids = [rng.choice(visible) for _ in range(requests + warmup)]
    # A contact name that exists in the user's scope (surname + given name), typed in Chinese.
    contact_name = (AccountContact.objects.filter(account_id__in=ids[:20]).values_list("contact__name", flat=True)
                    .first() or "王建国")  # fmt: skip
    owner = user if user.role in (Role.KA_MANAGER, Role.KA_HEAD) else (
        User.objects.filter(role=Role.KA_MANAGER, is_active=True).order_by("pk").first())  # fmt: skip
    run = f"{int(time.time()) % 10**6:06d}"
    n = requests + warmup

    def create(i: int) -> dict:
        return {
            "name": f"{CREATED_PREFIX}{run}{username}{i:04d}科技有限公司", "industry": "it", "ownership": "private",
            "province": "44", "city": "4403", "district": "440305", "lifecycle": "prospect",
            "credit_code": credit_code(rng, "440305", "private", "it"), "owner_id": owner.pk,
            "short_names": [f"基准{i}"], "tags": ["基准测试"],
        }  # fmt: skip

    q = urllib.parse.quote
    return {
        "list": [("GET", "/api/v1/accounts?lifecycle=customer&province=44", None)] * n,
        "search_fragment": [("GET", f"/api/v1/search?q={q('银行')}", None)] * n,
        "search_long_fragment": [("GET", f"/api/v1/search?q={q('建设银行')}", None)] * n,
        "search_initials": [("GET", "/api/v1/search?q=zgjsyh", None)] * n,
        "search_contact_name": [("GET", f"/api/v1/search?q={q(contact_name)}", None)] * n,
        "detail": [("GET", f"/api/v1/accounts/{pk}", None) for pk in ids],
        "detail_contacts": [("GET", f"/api/v1/accounts/{pk}/contacts", None) for pk in ids],
        "create": [("POST", "/api/v1/accounts", create(i)) for i in range(n)],
        # The account's newest page of activities and updates (the same random visible accounts).
        "timeline": [("GET", f"/api/v1/accounts/{pk}/timeline", None) for pk in ids],
        # The home page: counts, today's and overdue tasks, today's reminders, recently changed accounts.
        "home": [("GET", "/", None)] * n,
        **(sales_plan(user, n, rng) if set(SALES_OPERATIONS) & set(operations) else {}),
    }


def remove_created_accounts() -> None:
    """Take the accounts the create benchmark made out again, so the dataset keeps its size."""
    from django.db import transaction

    from kam.accounts.models import Account, SearchTerm
    from kam.core.models import AuditEvent

    with transaction.atomic():
        ids = list(Account.objects.filter(name__startswith=CREATED_PREFIX).values_list("pk", flat=True))
        SearchTerm.objects.filter(kind=SearchTerm.ACCOUNT, object_id__in=ids).delete()
        AuditEvent.objects.filter(account_id__in=ids).delete()
        Account.objects.filter(pk__in=ids).delete()


def measure(server: Server, client: Client, calls: list, warmup: int) -> dict:
    for method, path, body in calls[:warmup]:
        client.call(method, path, body)
    before = len(server.lines())
    client_ms, errors = [], 0
    first_error = ""
    for method, path, body in calls[warmup:]:
        status, payload, ms = client.call(method, path, body)
        client_ms.append(ms)
        if status >= 300:  # a page redirecting (to the login) is an error here too
            errors += 1
            first_error = first_error or f"{status} {payload[:200]!r}"
    measured = len(calls) - warmup
    deadline = time.monotonic() + 10
    lines = server.lines()[before:]
    while len(lines) < measured and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = server.lines()[before:]
    server_ms = [int(line.rsplit(" ", 1)[1]) / 1000 for line in lines[:measured]]
    result = {
        "n": measured, "errors": errors,
        "server_median_ms": statistics.median(server_ms), "server_p95_ms": percentile(server_ms, 95),
        "client_median_ms": statistics.median(client_ms), "client_p95_ms": percentile(client_ms, 95),
    }  # fmt: skip
    if first_error:
        result["first_error"] = first_error
    return result


def print_table(reports: list[dict]) -> None:
    """The HTTP results, then generation times and import results, as plain text tables."""
    http = [r for r in reports if "results" in r]
    imports = [r for r in reports if "wall_seconds" in r]
    reminders = [r for r in reports if "reminders_seconds" in r]
    recomputes = [r for r in reports if "forecasts_seconds" in r]  # bench/sales_recompute_bench.py
    sales_imports = [r for r in reports if "lines_per_second" in r]  # bench/sales_import_bench.py
    header = f"{'database':<11}{'accounts':>9}{'contacts':>10}{'activities':>11}{'opps':>8}{'sales lines':>12}  " \
             f"{'user':<7} {'operation':<20}{'server med':>11}{'p95':>9}{'client med':>11}{'p95':>9}{'target p95':>11}  ok"  # fmt: skip
    print(header)
    print("-" * len(header))
    for report in http:
        for row in report["results"]:
            target = TARGETS.get(row["operation"])
            ok = "—" if target is None else ("yes" if row["server_p95_ms"] <= target and not row["errors"] else "NO")
            if row["errors"]:
                ok += f" ({row['errors']} errors)"
            print(f"{report['database']:<11}{report['accounts']:>9,}{report['contacts']:>10,}"
                  f"{report.get('activities', 0):>11,}{report.get('opportunities', 0):>8,}"
                  f"{report.get('sales_lines', 0):>12,}  {row['user']:<7} "
                  f"{row['operation']:<20}{row['server_median_ms']:>9.1f}ms{row['server_p95_ms']:>7.1f}ms"
                  f"{row['client_median_ms']:>9.1f}ms{row['client_p95_ms']:>7.1f}ms"
                  f"{'' if target is None else f'{target} ms':>11}  {ok}")  # fmt: skip
    print()
    for report in http:
        if report.get("generation_seconds"):
            print(f"generation on {report['database']}: {report['generation_seconds']:.0f} s "
                  f"({report['accounts']:,} accounts, {report['contacts']:,} contacts)")  # fmt: skip
        if report.get("activities_seconds"):
            print(f"activities added on {report['database']}: {report['activities_seconds']:.0f} s "
                  f"({report['activities']:,} activities)")  # fmt: skip
        if report.get("opportunities_seconds"):
            print(f"opportunities added on {report['database']}: {report['opportunities_seconds']:.0f} s "
                  f"({report['opportunities']:,} opportunities with their stage changes)")  # fmt: skip
        if report.get("sales_seconds"):
            print(f"sales lines added on {report['database']}: {report['sales_seconds']:.0f} s "
                  f"({report['sales_lines']:,} lines)")  # fmt: skip
    for report in recomputes:
        ok = report["total_seconds"] <= RECOMPUTE_TARGET_SECONDS
        print(f"recompute of the monthly aggregates and statistical forecasts on {report['database']} "
              f"({report['sales_lines']:,} lines): {report['total_seconds']:.1f} s (sales_months_recompute "
              f"{report['sales_months_seconds']:.1f} s, statistical_forecasts_recompute {report['forecasts_seconds']:.1f} s; "
              f"target ≤ {RECOMPUTE_TARGET_SECONDS} s: {'yes' if ok else 'NO'}; load {report['load_before'][0]:.1f})")  # fmt: skip
    for report in sales_imports:
        ok = report["lines_per_second"] >= SALES_IMPORT_TARGET
        print(f"sales csv import of {report['lines']:,} lines on {report['database']} ({report['lines_before']:,} lines "
              f"before): {report['import_seconds']:.1f} s = {report['lines_per_second']:,} lines/s (target ≥ "
              f"{SALES_IMPORT_TARGET:,}: {'yes' if ok else 'NO'})")  # fmt: skip
    for report in imports:
        ok = report["exit_code"] == 0 and report["wall_seconds"] <= 60 and (report["peak_rss_mb"] or 0) <= 400
        verdict = f"target for 100,000 rows ≤ 60 s, ≤ 400 MB: {'yes' if ok else 'NO'}" if report["rows"] == 100_000 else (
            "the target applies to 100,000 rows")  # fmt: skip
        print(f"import of {report['rows']:,} accounts (xlsx) on {report['database']}: {report['wall_seconds']:.0f} s, "
              f"peak RSS {report['peak_rss_mb']} MB, exit {report['exit_code']}, {report['imported']:,} imported "
              f"({verdict})")  # fmt: skip
    for report in reminders:
        ok = report["reminders_seconds"] <= REMINDERS_TARGET_SECONDS
        print(f"reminders and cadence breaches for all users on {report['database']} ({report['accounts']:,} accounts, "
              f"{report['activities']:,} activities): {report['reminders_seconds']:.1f} s (reminders_for_day "
              f"{report['reminders_for_day_seconds']:.1f} s: {report['reminders_made']:,} made; weekly cadence review "
              f"{report['cadence_review_seconds']:.1f} s; target ≤ {REMINDERS_TARGET_SECONDS} s: {'yes' if ok else 'NO'})")  # fmt: skip
        if report.get("per_user_seconds") is not None:
            print(f"  cadence_breaches(user) for each of {report['per_user_users']:,} users: "
                  f"{report['per_user_seconds']:.1f} s ({report['per_user_breaches']:,} breaches listed)")  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="HTTP benchmark of the KAM API")
    parser.add_argument("--label", default="")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--users", default="head,admin,manager", help="comma-separated: head, admin, manager")
    parser.add_argument(
        "--operations",
        default="all",
        help="comma-separated subset of: " + ", ".join(TARGETS) + " (or `sales` for all of issue 3's, `all`)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--report", nargs="*", help="only print the table of earlier JSON results")
    args = parser.parse_args(argv)
    if args.report is not None:
        print_table([json.loads(Path(p).read_text()) for p in args.report])
        return 0

    operations = []
    for name in args.operations.split(","):
        operations += {"sales": SALES_OPERATIONS, "all": list(TARGETS)}.get(name, [name])
    unknown = set(operations) - set(TARGETS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    setup_django()
    report = {"label": args.label, **dataset(), "requests": args.requests, "warmup": args.warmup, "results": []}
    if args.operations == "all" and not report["sales_lines"]:
        operations = [op for op in operations if op not in SALES_OPERATIONS]
    print(
        f"dataset: {report['database']}, {report['accounts']:,} accounts, {report['contacts']:,} contacts, "
        f"{report['activities']:,} activities, {report['opportunities']:,} opportunities, "
        f"{report['sales_lines']:,} sales lines",
        flush=True,
    )
    out = Path(args.out) if args.out else ROOT / "bench" / "out" / f"{args.label or report['database']}.json"
    args.port = args.port or free_port()
    server = Server(args.port, out.with_suffix(".access.log"), args.workers, args.threads)
    try:
        rng = random.Random(7)
        for key in args.users.split(","):
            client = Client(args.port)
            client.login(USERS[key])
            mine = [op for op in operations if key in OPERATION_USERS.get(op, {key})]
            if PAGE_OPERATIONS & set(mine):
                client.session_login(USERS[key])
            calls = plan(USERS[key], args.requests, args.warmup, rng, mine)
            for operation in mine:
                if not calls[operation]:
                    print(f"  {key:<7} {operation:<20} nothing to request (no sales lines?)", flush=True)
                    continue
                started = time.monotonic()
                result = measure(server, client, calls[operation], args.warmup)
                result.update(user=key, operation=operation)
                report["results"].append(result)
                print(f"  {key:<7} {operation:<20} server median {result['server_median_ms']:7.1f} ms, "
                      f"p95 {result['server_p95_ms']:7.1f} ms; client median {result['client_median_ms']:7.1f} ms, "
                      f"p95 {result['client_p95_ms']:7.1f} ms; errors {result['errors']} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)  # fmt: skip
                if result.get("first_error"):
                    print(f"    first error: {result['first_error']}", flush=True)
    finally:
        server.stop()
        remove_created_accounts()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print()
    print_table([report])
    return 0


if __name__ == "__main__":
    sys.exit(main())
