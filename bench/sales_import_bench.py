"""Measure the import of a large ERP sales export (csv): lines per second (issue 3 benchmark: ≥ 50,000).

    KAM_DATA_DIR=/tmp/b .venv/bin/python bench/sales_import_bench.py --lines 1000000 --label sqlite

Runs against the archive KAM_DATA_DIR / KAM_DATABASE_URL point at (made by bench/generate.py; with no
accounts there it generates a small one first). Writes a csv the way an ERP export looks (Chinese
headers, the account by its credit code, orders of 1–6 lines over the last three years, a few returns),
then imports it in this process through kam.sales.imports.sales_import as the bench administrator and
times it; then imports the same file again (every line skipped, nothing doubled) and rebuilds all
monthly aggregates (sales_months_recompute). The lines stay in the database: a second run writes new
order numbers (the prefix is taken from the lines already there).
"""

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import BENCH_ADMIN, log, setup_django  # noqa: E402

HEADER = ["客户", "订单号", "行号", "日期", "产品线", "产品", "数量", "金额", "毛利", "退货"]
PRODUCT_LINES = {"工业阀门": ["DN50 球阀", "DN80 闸阀", "蝶阀"], "仪器仪表": ["压力变送器", "流量计"],
                 "自动化系统": ["PLC 控制柜", "DCS 模块"], "售后服务": ["年度维保", "备件包"], "耗材": ["密封件", "滤芯"]}  # fmt: skip


def write_csv(path: Path, lines: int, accounts: list[str], prefix: str, seed: int) -> None:
    rng = random.Random(seed)
    today = date.today()
    days = [(today - timedelta(days=n)).isoformat() for n in range(1, 3 * 365)]
    names = list(PRODUCT_LINES)
    written = order = 0
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        while written < lines:
            order += 1
            account, day = rng.choice(accounts), rng.choice(days)
            for line in range(1, min(rng.randint(1, 6), lines - written) + 1):
                product_line = rng.choice(names)
                quantity = rng.randint(1, 200)
                amount = quantity * rng.randint(50, 20000)
                margin = amount * rng.randint(5, 40) // 100
                if rng.random() < 0.01:  # a return
                    writer.writerow([account, f"{prefix}{order:08d}", line, day, product_line,
                                     rng.choice(PRODUCT_LINES[product_line]), -quantity, f"-{amount}.00",
                                     f"-{margin}.00", "是"])  # fmt: skip
                else:
                    writer.writerow([account, f"{prefix}{order:08d}", line, day, product_line,
                                     rng.choice(PRODUCT_LINES[product_line]), quantity, f"{amount}.50",
                                     f"{margin}.25", ""])  # fmt: skip
                written += 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="benchmark of the sales csv import")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--label", default="")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="write the result as JSON here")
    parser.add_argument("--no-reimport", action="store_true", help="skip the second (all duplicates) import")
    args = parser.parse_args(argv)

    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from kam.accounts.models import Account
    from kam.org.models import User
    from kam.sales import services
    from kam.sales.imports import sales_import
    from kam.sales.models import SalesMonth, SalesRecord

    call_command("migrate", interactive=False, verbosity=0)  # an empty data directory has no tables yet
    if not User.objects.filter(username=BENCH_ADMIN).exists():
        connection.close()
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--accounts", "10000", "--contacts",
                        "10000", "--activities", "0", "--opportunities", "0", "--sales", "0"], check=True)  # fmt: skip
    admin = User.objects.get(username=BENCH_ADMIN)
    codes = list(Account.objects.exclude(credit_code="").values_list("credit_code", flat=True))
    before = SalesRecord.objects.count()
    prefix = f"B{before // 1000:05d}-" if before else "B-"
    path = Path(settings.DATA_DIR) / f"sales-{args.lines}-{prefix.strip('-')}.csv"
    started = time.monotonic()
    write_csv(path, args.lines, codes, prefix, args.seed + before)
    log(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB, {args.lines:,} lines over {len(codes):,} accounts) "
        f"in {time.monotonic() - started:.0f} s")  # fmt: skip

    started = time.monotonic()
    with open(path, "rb") as handle:
        report = sales_import(actor=admin, file=handle, filename=path.name)
    seconds = time.monotonic() - started
    assert report.ok, report.errors[:5]
    result = {"label": args.label, "database": connection.vendor, "accounts": len(codes), "lines_before": before,
              "lines": args.lines, "created": report.created, "import_seconds": round(seconds, 1),
              "lines_per_second": round(args.lines / seconds)}  # fmt: skip
    log(f"import: {report.created:,} lines in {seconds:.1f} s = {args.lines / seconds:,.0f} lines/s "
        f"({connection.vendor}, {len(codes):,} accounts, {before:,} lines before)")  # fmt: skip

    if not args.no_reimport:
        started = time.monotonic()
        with open(path, "rb") as handle:
            again = sales_import(actor=admin, file=handle, filename=path.name)
        seconds = time.monotonic() - started
        assert again.ok and again.created == 0 and again.skipped == args.lines, again.as_dict()
        result.update(reimport_seconds=round(seconds, 1), reimport_lines_per_second=round(args.lines / seconds))
        log(f"the same file again: {again.skipped:,} skipped in {seconds:.1f} s = {args.lines / seconds:,.0f} lines/s")

    from django.db.models import Count, Sum

    kept = SalesMonth.objects.aggregate(amount=Sum("amount"), lines=Sum("lines"))
    lines = SalesRecord.objects.aggregate(amount=Sum("amount"), lines=Count("pk"))
    assert kept == lines, (kept, lines)  # the aggregates written during the import equal the lines
    log(f"monthly aggregates agree with the lines: {kept['lines']:,} lines, {kept['amount']:,} CNY")
    started = time.monotonic()
    months = services.sales_months_recompute()
    seconds = time.monotonic() - started
    total = SalesRecord.objects.count()
    result.update(recompute_seconds=round(seconds, 1), months=months, lines_total=total)
    log(f"recompute: {months:,} account-months from {total:,} lines in {seconds:.1f} s "
        f"({SalesMonth.objects.count():,} rows)")  # fmt: skip
    path.unlink()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
