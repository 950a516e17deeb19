"""Time the nightly recomputation of issue 3 on a generated archive: every monthly aggregate rebuilt from the
sales lines (kam.sales.services.sales_months_recompute: SalesMonth and SalesCredit), the opportunities'
funnel and pipeline cells (opportunity_cells_recompute) and every statistical forecast
(statistical_forecasts_recompute: AccountForecast and OwnerForecastMonth, numpy). Target: ≤ 60 s
together, at 10,000,000 sales lines.

    KAM_DATA_DIR=bench/data/sqlite-100000-1000000 .venv/bin/python bench/sales_recompute_bench.py --label sqlite
    KAM_DATABASE_URL=postgresql://…  KAM_DATA_DIR=… .venv/bin/python bench/sales_recompute_bench.py --label postgresql

Both run in ONE transaction that is ROLLED BACK afterwards (--keep commits it), so the archive stays as
generated and the run can be repeated; the rollback itself is not timed. Before timing, the lines are read
once (count) so that the first step does not pay alone for a cold cache; --cold skips that.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import log, setup_django  # noqa: E402

TARGET_SECONDS = 60


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="benchmark of the monthly aggregates and statistical forecasts")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", help="write the result as JSON here")
    parser.add_argument("--keep", action="store_true", help="commit the recomputed rows instead of rolling back")
    parser.add_argument("--cold", action="store_true", help="do not read the lines once before timing")
    args = parser.parse_args(argv)
    setup_django()
    from django.db import connection, transaction

    from kam.accounts.models import Account
    from kam.sales import services
    from kam.sales.models import AccountForecast, OwnerForecastMonth, SalesCredit, SalesMonth, SalesRecord

    lines = SalesRecord.objects.count()
    accounts = Account.objects.count()
    if not args.cold:
        started = time.monotonic()
        SalesRecord.objects.filter(amount__gt=0).count()
        log(f"warm-up read of {lines:,} lines in {time.monotonic() - started:.1f} s")
    load = os.getloadavg()
    result = {"label": args.label, "database": connection.vendor, "accounts": accounts, "sales_lines": lines,
              "load_before": [round(x, 2) for x in load], "rolled_back": not args.keep}  # fmt: skip
    with transaction.atomic():
        started = time.monotonic()
        months = services.sales_months_recompute()
        result["sales_months_seconds"] = round(time.monotonic() - started, 1)
        result["account_months"] = months
        result["credit_months"] = SalesCredit.objects.count()
        log(f"sales_months_recompute: {months:,} account-months, {result['credit_months']:,} owner-months "
            f"in {result['sales_months_seconds']:.1f} s")  # fmt: skip
        started = time.monotonic()
        summary = services.statistical_forecasts_recompute()
        result["forecasts_seconds"] = round(time.monotonic() - started, 1)
        result["forecasts"] = {k: v for k, v in summary.items() if k != "seconds"} if isinstance(summary, dict) else {}
        result["account_forecasts"] = AccountForecast.objects.count()
        result["owner_forecast_months"] = OwnerForecastMonth.objects.count()
        log(f"statistical_forecasts_recompute: {result['account_forecasts']:,} account forecasts, "
            f"{result['owner_forecast_months']:,} manager-months in {result['forecasts_seconds']:.1f} s "
            f"({summary})")  # fmt: skip
        started = time.monotonic()
        result["opportunity_cells"] = services.opportunity_cells_recompute()
        result["cells_seconds"] = round(time.monotonic() - started, 1)
        log(f"opportunity_cells_recompute: {result['opportunity_cells']:,} funnel and pipeline cells "
            f"in {result['cells_seconds']:.1f} s")  # fmt: skip
        assert SalesMonth.objects.exists() or not lines
        if not args.keep:
            transaction.set_rollback(True)
    result["total_seconds"] = round(result["sales_months_seconds"] + result["forecasts_seconds"]
                                    + result["cells_seconds"], 1)  # fmt: skip
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    ok = result["total_seconds"] <= TARGET_SECONDS
    log(f"recompute on {connection.vendor} ({lines:,} lines, {accounts:,} accounts): {result['total_seconds']:.1f} s "
        f"(target ≤ {TARGET_SECONDS} s: {'yes' if ok else 'NO'}); load {load[0]:.2f} before, "
        f"{result['load_after'][0]:.2f} after; {'kept' if args.keep else 'rolled back'}")  # fmt: skip
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
