"""Measure `kam import` of a large accounts spreadsheet: wall time and peak memory (RSS).

    KAM_DATA_DIR=/tmp/kam-import .venv/bin/python bench/import_bench.py --rows 100000 --label sqlite

Writes an xlsx the way a customer's own spreadsheet looks (Chinese headers, region names, choice
labels in Chinese, the owner by username), into an EMPTY database prepares the organisation
(bench/generate.py with a handful of accounts), then runs `kam import FILE --entity accounts`
under /usr/bin/time -v and reads its elapsed time and maximum resident set size.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import BENCH_ADMIN, log, setup_django  # noqa: E402

HEADER = ["客户名称*", "英文名称", "简称", "统一社会信用代码", "所属行业", "企业性质", "员工人数", "年营业额", "省份", "城市",
          "区县", "详细地址", "联系电话", "网址", "客户来源", "客户状态", "负责人", "标签"]  # fmt: skip
INDUSTRY_LABELS = {"manufacturing": "制造业", "it": "信息技术", "trade": "批发和零售业", "finance": "金融业",
                   "construction": "建筑业", "logistics": "物流", "health": "医疗", "education": "教育",
                   "real_estate": "房地产业", "utilities": "能源"}  # fmt: skip
OWNERSHIP_LABELS = ["民营企业", "国有企业", "上市公司", "中外合资企业", "外资企业"]
LIFECYCLE_LABELS = ["潜在客户", "成交客户", "休眠客户", "流失客户"]
SOURCE_LABELS = ["转介绍", "展会", "官网", "陌生拜访", "公开招标", "合作伙伴"]


def write_xlsx(path: Path, rows: int, owners: list[str], seed: int) -> None:
    from openpyxl import Workbook

    from kam.accounts.names import normalize_company_name
    from kam.core import regions
    from kam.demo import CITIES, COMPANY_STEMS, INDUSTRY_WORDS, _districts, credit_code, landline

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    sheet.append(HEADER)
    seen: set[str] = set()
    written = 0
    while written < rows:
        city, _area, city_name = rng.choice(CITIES)
        district = rng.choice(_districts(city))
        industry = rng.choice(list(INDUSTRY_LABELS))
        stem = rng.choice(COMPANY_STEMS) + rng.choice(COMPANY_STEMS) + rng.choice(COMPANY_STEMS)
        name = f"{city_name}{stem}{rng.choice(INDUSTRY_WORDS[industry])}{rng.choice(['有限公司', '股份有限公司'])}"
        key = normalize_company_name(name)
        if key in seen:
            continue
        seen.add(key)
        province_name = regions.name(city[:2])
        city_label = regions.name(city)
        if city_label in ("市辖区", "县"):
            # A municipality: 北京市 / 北京市 / 海淀区. (The importer does not take 重庆市 / 重庆市, whose two
            # placeholder levels 市辖区 and 县 make the city ambiguous, so leave the city empty there.)
            city_label = province_name if len(regions.children(city[:2])) == 1 else ""
        sheet.append([
            name, "", stem[:4] if rng.random() < 0.3 else "", credit_code(rng, district, "private", industry),
            INDUSTRY_LABELS[industry], rng.choice(OWNERSHIP_LABELS), rng.randrange(20, 20000),
            rng.randrange(100, 100000) * 10000, province_name, city_label,
            regions.name(district), f"{rng.choice(['人民路', '建设大道', '科技园路'])}{rng.randrange(1, 999)}号",
            landline(rng, city), "", rng.choice(SOURCE_LABELS), rng.choice(LIFECYCLE_LABELS), rng.choice(owners),
            rng.choice(["", "", "重点客户", "潜力客户"]),
        ])  # fmt: skip
        written += 1
    book.save(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="benchmark of `kam import` (accounts)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--label", default="")
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)

    # The organisation (and a few accounts) in the empty database this run imports into.
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--accounts", "100", "--contacts", "100",
                    "--managers", "50", "--opportunities", "0", "--sales", "0"], check=True)  # fmt: skip
    setup_django()
    from django.conf import settings
    from django.db import connection

    from kam.accounts.models import Account
    from kam.org.models import Role, User

    owners = list(User.objects.filter(role=Role.KA_MANAGER).values_list("username", flat=True))
    before = Account.objects.count()
    if before > 100:
        print("Import into a fresh database (this one has had an import already).", file=sys.stderr)
        return 2
    xlsx = settings.DATA_DIR / f"import-{args.rows}.xlsx"
    if not xlsx.exists():
        started = time.monotonic()
        write_xlsx(xlsx, args.rows, owners, args.seed)
        log(f"wrote {xlsx} ({xlsx.stat().st_size / 2**20:.1f} MB) in {time.monotonic() - started:.0f} s")
    connection.close()

    kam = str(Path(sys.executable).with_name("kam"))
    argv = ["/usr/bin/time", "-v", kam, "import", str(xlsx), "--entity", "accounts", "--user", BENCH_ADMIN]
    log("running " + " ".join(argv[2:]))
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    wall = time.monotonic() - started
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    imported = Account.objects.count() - before
    result = {
        "label": args.label, "database": connection.vendor, "rows": args.rows, "exit_code": done.returncode,
        "imported": imported, "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None,
    }  # fmt: skip
    tail = [line for line in done.stderr.splitlines() if not line.startswith("\t")]
    if done.returncode != 0:
        result["error"] = "\n".join(tail[-10:])
    print(done.stdout.strip())
    log(
        f"import: exit {done.returncode}, {imported:,} accounts imported, {wall:.1f} s, peak RSS {result['peak_rss_mb']} MB"
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
