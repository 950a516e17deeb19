"""Generate a benchmark archive: many accounts and contacts, written straight into the database.

    KAM_DATA_DIR=bench/data/sqlite .venv/bin/python bench/generate.py --accounts 100000 --contacts 1000000
    KAM_DATABASE_URL=postgresql://… .venv/bin/python bench/generate.py …

It targets whatever database the environment names (KAM_DATABASE_URL, else the SQLite file in
KAM_DATA_DIR), migrates it, and fills it with an organisation of ~200 KA managers in a department
tree, accounts (some head offices with branches), contacts with positions in small buying-centre
trees, tags and the search terms of every account and contact.

This BYPASSES THE SERVICES ON PURPOSE: writing a million contacts one by one through
`contact_create` (validation, duplicate checks, audit events) would take hours. So:
  - no audit events are written, and no validation runs (the values are generated valid);
  - the derived columns are still exactly what the services would store: `normalized_name` and
    `name_sort` come from kam.accounts.names, the SearchTerm rows from kam.accounts.search's
    account_terms / contact_terms, an account's department is its owner's department;
  - rows are written with bulk_create in large batches, and the two big plain tables (positions,
    search terms) with executemany on SQLite or COPY on PostgreSQL; the search-term indexes are
    dropped during the load and rebuilt afterwards (much faster than updating them row by row).

With --activities N it also writes N activities (issue 4; see ActivityGenerator): visits, calls…
over the last two years with the contacts met (M2M), the owner as participant, ~5 % with an open
follow-up task due around today. Run on an archive it generated earlier at the same size without
activities, it adds just the activities (accounts and contacts stay).

With --opportunities N / --sales N (issue 3; or BENCH_OPPORTUNITIES / BENCH_SALES) it also writes N
opportunities with their stage history (see OpportunityGenerator) and N sales lines over 36 months (see
SalesGenerator), then the monthly aggregates, the funnel cells, a quota per manager and month of this year
and the statistical forecasts through the services' own recompute functions. Like the activities, each
is added to an archive generated earlier without it.

Running it again on a database it already filled at the same size does nothing (a marker file
in KAM_DATA_DIR records what was generated, activities included); a database with other data is
refused.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

BENCH_PASSWORD = "kam-bench-2026"
SEED = 424242
BATCH = 5000
REGIONS = {  # branch → provinces it covers
    "华东": ["31", "32", "33", "34", "35", "36", "37"],
    "华南": ["44", "45", "46"],
    "华北": ["11", "12", "13", "14", "15"],
    "华中": ["41", "42", "43"],
    "西南": ["50", "51", "52", "53", "54"],
    "西北": ["61", "62", "63", "64", "65"],
    "东北": ["21", "22", "23"],
}
TEAMS = ["一组", "二组", "三组", "四组", "五组"]
# Bench logins (password BENCH_PASSWORD): the head of 华南大客户部 (scope: department and below),
# an administrator (all accounts) and one KA manager (own accounts).
BENCH_HEAD, BENCH_ADMIN, BENCH_MANAGER = "bench_head", "bench_admin", "bench_manager"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kam.settings")
    import django

    django.setup()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# writing


def insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """Insert plain rows (no model instances): COPY on PostgreSQL, executemany elsewhere."""
    from django.db import connection

    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})", rows)


def next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def reset_sequences(models) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)


class DroppedIndexes:
    """Drop a model's indexes for a bulk load and build them again afterwards, even on failure."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        from django.db import connection

        with connection.schema_editor() as editor:
            for index in self.model._meta.indexes:
                editor.remove_index(self.model, index)

    def __exit__(self, *exc):
        from django.db import connection

        started = time.monotonic()
        with connection.schema_editor() as editor:
            for index in self.model._meta.indexes:
                editor.add_index(self.model, index)
        log(f"rebuilt the indexes of {self.model.__name__} in {time.monotonic() - started:.0f} s")
        return False


# ---------------------------------------------------------------------------------------------
# the generator


class Generator:
    def __init__(self, *, accounts: int, contacts: int, seed: int):
        from django.utils import timezone

        self.n_accounts = accounts
        self.n_contacts = contacts
        self.rng = random.Random(seed)
        self.today = timezone.localdate()
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.managers_by_region: dict[str, list] = {}
        self.heads_by_region: dict[str, object] = {}
        self.account_ids: list[int] = []
        self.account_kind: dict[int, str] = {}
        self.search_rows = 0

    # organisation ---------------------------------------------------------------------------

    def organisation(self, managers: int) -> None:
        from django.contrib.auth.hashers import make_password

        from kam.demo import person_name
        from kam.org import services as org_services
        from kam.org.models import DataScope, DepartmentKind, Role, User

        mk = org_services.department_create
        company = mk(actor=None, name="总公司", kind=DepartmentKind.COMPANY)
        teams = []
        for region in REGIONS:
            branch = mk(actor=None, name=f"{region}分公司", kind=DepartmentKind.BRANCH, parent=company)
            ka = mk(actor=None, name=f"{region}大客户部", kind=DepartmentKind.KA_DEPARTMENT, parent=branch)
            self.heads_by_region[region] = ka
            teams += [(region, mk(actor=None, name=name, kind=DepartmentKind.TEAM, parent=ka)) for name in TEAMS]
        unusable = make_password(None)
        users = []
        for number in range(managers):
            region, team = teams[number % len(teams)]
            gender = self.rng.choice(["male", "female"])
            users.append(User(username=f"ka{number + 1:04d}", display_name=person_name(self.rng, gender), role=Role.KA_MANAGER,
                              department=team, data_scope=DataScope.OWN, password=unusable))  # fmt: skip
        for region, ka in self.heads_by_region.items():
            users.append(User(username=f"head_{ka.pk}", display_name=f"{region}大客户部主任", role=Role.KA_HEAD,
                              department=ka, data_scope=DataScope.SUBTREE, password=unusable))  # fmt: skip
        User.objects.bulk_create(users, batch_size=500)
        bench = [
            (BENCH_ADMIN, "基准管理员", Role.ADMIN, company, DataScope.ALL),
            (BENCH_HEAD, "基准主任", Role.KA_HEAD, self.heads_by_region["华南"], DataScope.SUBTREE),
            (BENCH_MANAGER, "基准经理", Role.KA_MANAGER, teams[TEAMS.index("一组") + 5 * list(REGIONS).index("华南")][1],
             DataScope.OWN),
        ]  # fmt: skip
        for username, display_name, role, department, scope in bench:
            user = User(username=username, display_name=display_name, role=role, department=department, data_scope=scope,
                        is_staff=role == Role.ADMIN)  # fmt: skip
            user.set_password(BENCH_PASSWORD)
            user.save()
        owners = User.objects.filter(role__in=[Role.KA_MANAGER, Role.KA_HEAD]).select_related("department")
        paths = {region: ka.path for region, ka in self.heads_by_region.items()}
        for user in owners:
            region = next(r for r, path in paths.items() if user.department.path.startswith(path))
            self.managers_by_region.setdefault(region, []).append(user)
        log(f"organisation: {len(teams)} teams, {User.objects.count()} users")

    # accounts -------------------------------------------------------------------------------

    def _owner(self, province: str):
        region = next(r for r, provinces in REGIONS.items() if province in provinces)
        if self.rng.random() < 0.12:
            region = self.rng.choice(list(REGIONS))
        return self.rng.choice(self.managers_by_region[region])

    def _unique_name(self, make) -> str | None:
        from kam.accounts.names import normalize_company_name

        for _attempt in range(50):
            name = make()
            key = normalize_company_name(name)
            if key not in self.names:
                self.names.add(key)
                return name
        return None

    def _account(self, pk: int, *, name: str, city: str, district: str, industry: str, ownership: str,
                 short=(), name_en="", parent_id=None, website=""):  # fmt: skip
        from kam.accounts.models import Account, LeadSource, Lifecycle
        from kam.accounts.names import normalize_company_name, sort_key
        from kam.demo import credit_code, landline

        rng = self.rng
        owner = self._owner(district[:2])
        code = credit_code(rng, district, ownership, industry)
        while code in self.codes:
            code = credit_code(rng, district, ownership, industry)
        self.codes.add(code)
        employees = rng.choice([30, 80, 150, 400, 900, 2000, 5000, 20000]) + rng.randrange(30)
        lifecycle = rng.choices(Lifecycle.values, [30, 50, 12, 8])[0]
        archived = rng.random() < 0.01
        return Account(
            pk=pk, name=name, name_en=name_en, short_names=list(short), credit_code=code, industry=industry,
            ownership=ownership, employees=employees,
            annual_revenue=Decimal(employees * rng.randrange(40, 300) * 10_000) if ownership != "government" else None,
            province=district[:2], city=district[:4], district=district,
            address=f"{rng.choice(['人民路', '建设大道', '科技园路', '中山路', '解放路', '世纪大道'])}{rng.randrange(1, 999)}号",
            phone=landline(rng, city), website=website, parent_id=parent_id,
            procurement_mode=rng.choice(["centralized", "decentralized", ""]),
            purchase_pattern=rng.choice(["continuous", "one_off", ""]), lead_source=rng.choice(LeadSource.values),
            lifecycle=lifecycle, owner=owner, department_id=owner.department_id, is_archived=archived,
            archived_at=None, normalized_name=normalize_company_name(name), name_sort=sort_key(name),
        )  # fmt: skip

    def _generated_account(self, pk: int):
        from pypinyin import lazy_pinyin

        from kam.accounts.models import Industry
        from kam.core import regions
        from kam.demo import (
            CITIES,
            CITY_WEIGHTS,
            COMPANY_STEMS,
            FOREIGN_BRANDS,
            GOVERNMENT_BODIES,
            INDUSTRY_EN,
            INDUSTRY_WORDS,
            JV_PARTNERS,
            _districts,
            pinyin,
        )  # fmt: skip

        rng = self.rng
        city, _area, city_name = rng.choices(CITIES, [CITY_WEIGHTS.get(c[0], 1) for c in CITIES])[0]
        district = rng.choice(_districts(city))
        ownership = rng.choices(["private", "state_owned", "listed", "joint_venture", "foreign", "government"],
                                [45, 15, 12, 8, 8, 12])[0]  # fmt: skip
        short, name_en, website = [], "", ""
        if ownership == "government":
            industry = rng.choice(list(GOVERNMENT_BODIES))
            body = rng.choice(GOVERNMENT_BODIES[industry])
            district_name = regions.name(district)

            def make():
                place = f"{city_name}市"
                if len(district) == 6 and rng.random() < 0.7:
                    place = district_name if district_name.endswith("市") else place + district_name
                return place + body
        else:
            industry = rng.choice([i for i in Industry.values if i != Industry.PUBLIC])
            word = rng.choice(INDUSTRY_WORDS[industry])

            def make():
                stem = rng.choice(COMPANY_STEMS)
                if rng.random() < 0.6:
                    stem += rng.choice(COMPANY_STEMS)
                if ownership == "foreign":
                    brand = rng.choice(FOREIGN_BRANDS)[0]
                    return f"{brand}（{city_name}）{stem}{word}有限公司"
                if ownership == "joint_venture":
                    return f"{city_name}{stem}{rng.choice(JV_PARTNERS)}{word}有限公司"
                if ownership == "listed":
                    return f"{city_name}{stem}{word}股份有限公司"
                if ownership == "state_owned":
                    return f"{city_name}{stem}{word}集团有限公司"
                return f"{city_name}{stem}{word}{rng.choice(['有限公司', '有限公司', '有限责任公司'])}"

        name = self._unique_name(make)
        if name is None:
            return None
        if ownership != "government":
            stem_part = name.removeprefix(city_name)[:4]
            if rng.random() < 0.3:
                short = [stem_part]
            if rng.random() < 0.3:
                name_en = f"{pinyin(city_name).title()} {pinyin(stem_part).title()} {INDUSTRY_EN[industry]} Co., Ltd."
            if rng.random() < 0.5:
                website = "https://www." + "".join(lazy_pinyin(stem_part)) + ".com.cn"
        return self._account(pk, name=name, city=city, district=district, industry=industry, ownership=ownership,
                             short=short, name_en=name_en, website=website)  # fmt: skip

    def _bank_groups(self, first_pk: int, budget: int) -> list:
        """The big banks (from the demo list), each with provincial branches and district sub-branches."""
        from kam.core import regions
        from kam.demo import CITIES, KNOWN_ACCOUNTS, _districts

        accounts = []
        pk = first_pk
        banks = [k for k in KNOWN_ACCOUNTS if "银行" in k["name"]]
        for bank in banks:
            if len(accounts) >= budget:
                break
            head = self._account(pk, name=bank["name"], city=bank["district"][:4], district=bank["district"], industry="finance",
                                 ownership=bank["ownership"], short=bank["short"], name_en=bank["en"],
                                 website=bank["website"])  # fmt: skip
            self.names.add(head.normalized_name)
            accounts.append(head)
            pk += 1
            for city, _area, city_name in CITIES:
                if len(accounts) >= budget:
                    break
                branch_name = f"{bank['name']}{city_name}分行"
                branch = self._account(pk, name=branch_name, city=city, district=_districts(city)[0], industry="finance",
                                       ownership=bank["ownership"], short=[f"{bank['short'][0]}{city_name}分行"],
                                       parent_id=head.pk)  # fmt: skip
                accounts.append(branch)
                pk += 1
                for district in _districts(city)[:4]:
                    if len(accounts) >= budget:
                        break
                    place = regions.name(district).removesuffix("区").removesuffix("县").removesuffix("市")
                    accounts.append(self._account(pk, name=f"{bank['name']}{city_name}{place}支行", city=city,
                                                  district=district, industry="finance", ownership=bank["ownership"],
                                                  parent_id=branch.pk))  # fmt: skip
                    pk += 1
        return accounts

    def accounts(self) -> None:
        from kam.accounts.models import Account, SearchTerm, Tag
        from kam.accounts.search import account_terms
        from kam.demo import TAGS

        started = time.monotonic()
        pk = next_id(Account)
        tags = [Tag.objects.get_or_create(name=name)[0].pk for name in TAGS]
        through = Account.tags.through
        bank_budget = min(self.n_accounts // 40, 2500)
        pending = self._bank_groups(pk, bank_budget)
        pk += len(pending)
        written = 0

        def flush(batch):
            from django.db import transaction

            with transaction.atomic():
                Account.objects.bulk_create(batch, batch_size=1000)
                terms, tag_rows = [], []
                for account in batch:
                    terms += [(SearchTerm.ACCOUNT, account.pk, t) for t in account_terms(account) if t]
                    if self.rng.random() < 0.25:
                        tag_rows += [(account.pk, t) for t in self.rng.sample(tags, self.rng.randint(1, 2))]
                insert_rows(SearchTerm, ["kind", "object_id", "term"], terms)
                insert_rows(through, ["account_id", "tag_id"], tag_rows)
                self.search_rows += len(terms)
            for account in batch:
                self.account_ids.append(account.pk)
                kind = (
                    "bank"
                    if "银行" in account.name
                    else "government"
                    if account.ownership == "government"
                    else "company"
                )
                self.account_kind[account.pk] = kind

        while written + len(pending) < self.n_accounts:
            account = self._generated_account(pk)
            if account is None:
                continue
            pending.append(account)
            pk += 1
            if len(pending) >= BATCH:
                flush(pending)
                written += len(pending)
                pending = []
                if written % 20000 < BATCH:
                    log(f"accounts: {written:,}")
        flush(pending)
        written += len(pending)
        seconds = time.monotonic() - started
        log(f"accounts: {written:,} in {seconds:.0f} s ({written / seconds:,.0f}/s)")

    # contacts -------------------------------------------------------------------------------

    def _sizes(self) -> list[int]:
        """Contacts per account: exactly n_contacts in all, varying around the average."""
        n, total = len(self.account_ids), self.n_contacts
        sizes = [total // n + (1 if i < total % n else 0) for i in range(n)]
        for _ in range(n):
            a, b = self.rng.randrange(n), self.rng.randrange(n)
            move = self.rng.randint(0, max(0, min(sizes[a] - 1, 4)))
            sizes[a] -= move
            sizes[b] += move
        return sizes

    def contacts(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from kam.accounts.models import AccountContact, Contact, Personality, SearchTerm
        from kam.accounts.names import sort_key
        from kam.accounts.search import contact_terms
        from kam.demo import HOMETOWNS, INTERESTS, MOBILE_PREFIXES, POSITIONS, person_name

        started = time.monotonic()
        rng = self.rng
        contact_pk, position_pk = next_id(Contact), next_id(AccountContact)
        creator = self.managers_by_region["华东"][0].pk
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        adapt_date = connection.ops.adapt_datefield_value
        contact_columns = [
            "id", "created_at", "updated_at", "version", "name", "name_en", "gender", "mobile", "phone", "email", "wechat",
            "birthday", "birthday_is_lunar", "birth_year", "hometown", "interests", "joined_company_on", "authority",
            "personality", "working_style", "family_notes", "notes", "created_by_id", "is_archived", "name_sort",
        ]  # fmt: skip
        concrete = {f.column for f in Contact._meta.concrete_fields}
        assert concrete == set(contact_columns), f"Contact's columns changed: {concrete ^ set(contact_columns)}"
        personalities = [*Personality.values, ""]
        position_columns = ["id", "account_id", "contact_id", "title", "department_name", "buying_role", "influence",
                            "attitude", "reports_to_id", "is_primary"]  # fmt: skip
        contacts, positions, terms = [], [], []
        done = 0

        def flush():
            nonlocal contacts, positions, terms
            with transaction.atomic():
                insert_rows(Contact, contact_columns, contacts)
                insert_rows(AccountContact, position_columns, positions)
                insert_rows(SearchTerm, ["kind", "object_id", "term"], terms)
            self.search_rows += len(terms)
            contacts, positions, terms = [], [], []

        for account_id, size in zip(self.account_ids, self._sizes(), strict=True):
            templates = POSITIONS[self.account_kind[account_id]]
            tree: list[int] = []  # position ids at this account, by template index
            for index in range(size):
                title, department_name, role, influence, boss = templates[index % len(templates)]
                if index >= len(templates):
                    title, role, influence = "专员", "user", 1
                gender = rng.choice(["male", "male", "female"]) if influence >= 4 else rng.choice(["male", "female"])
                name = person_name(rng, gender)
                year = rng.randrange(1962, 1999)
                birthday = date(year, rng.randrange(1, 13), rng.randrange(1, 29)) if rng.random() < 0.6 else None
                mobile = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
                joined = date(rng.randrange(max(year + 22, 1990), 2025), 1, 1) + timedelta(days=rng.randrange(360))
                contacts.append((
                    contact_pk, now, now, 1, name, "", gender, mobile, "", "", "", adapt_date(birthday),
                    birthday is not None and rng.random() < 0.25, year if birthday or rng.random() < 0.3 else None,
                    rng.choice(HOMETOWNS) if rng.random() < 0.6 else "", "、".join(rng.sample(INTERESTS, rng.randrange(0, 3))),
                    adapt_date(joined), "", rng.choice(personalities), "", "", "", creator, False, sort_key(name),
                ))  # fmt: skip
                # The same terms the services index (only the names and phones are read).
                person = SimpleNamespace(name=name, name_en="", mobile=mobile, phone="")
                terms += [(SearchTerm.CONTACT, contact_pk, t) for t in contact_terms(person) if t]
                if index == 0:
                    reports_to = None
                elif boss is not None and index < len(templates):
                    reports_to = tree[boss]
                else:
                    reports_to = tree[rng.randrange(len(tree))]
                positions.append((position_pk, account_id, contact_pk, title, department_name, str(role),
                                  max(1, min(5, influence + rng.choice([-1, 0, 0, 1]))) if index else 5,
                                  rng.choice(["champion", "supportive", "neutral", "neutral", "sceptical", "opposed"]),
                                  reports_to, index == 1))  # fmt: skip
                tree.append(position_pk)
                # Now and then the same person also holds a position at another account.
                if index and rng.random() < 0.01:
                    other = rng.choice(self.account_ids)
                    if other != account_id:
                        position_pk += 1
                        positions.append((position_pk, other, contact_pk, "外聘顾问", "专家委员会", "technical", 2,
                                          "neutral", None, False))  # fmt: skip
                contact_pk += 1
                position_pk += 1
                done += 1
            if len(contacts) >= BATCH * 4:
                flush()
                if done % 100_000 < BATCH * 4:
                    log(f"contacts: {done:,}")
        flush()
        seconds = time.monotonic() - started
        log(f"contacts: {done:,} in {seconds:.0f} s ({done / seconds:,.0f}/s)")

    def run(self, managers: int) -> None:
        from django.db import connection

        from kam.accounts.models import Account, AccountContact, Contact, SearchTerm, Tag
        from kam.org.models import Department, User

        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                # A bulk load: no fsync per batch, a big page cache for the index updates.
                cursor.execute("PRAGMA synchronous=OFF")
                cursor.execute("PRAGMA cache_size=-1048576")
        self.organisation(managers)
        with DroppedIndexes(SearchTerm):
            self.accounts()
            self.contacts()
        reset_sequences([Account, Contact, AccountContact, SearchTerm, Tag, User, Department])
        log(f"search terms: {self.search_rows:,}")


# ---------------------------------------------------------------------------------------------
# activities (issue 4): added to an archive generated before


ACTIVITY_KINDS = {  # kind → (weight, subjects)
    "visit": (35, ["季度业务回顾拜访", "新品介绍拜访", "年度采购计划沟通", "现场技术交流", "客户满意度回访", "合同执行情况了解"]),
    "call": (30, ["电话跟进报价", "确认样品需求", "付款进度沟通", "电话回访使用情况", "约定下次拜访时间"]),
    "message": (20, ["微信发送产品资料", "短信确认会议安排", "邮件发送报价单", "微信沟通交付时间"]),
    "meeting": (8, ["招标前技术澄清会", "项目启动会", "年度合作洽谈会", "商务谈判会议"]),
    "sample_delivery": (4, ["送样测试", "样品交付及试用说明"]),
    "executive_visit": (3, ["高层互访", "总经理拜访客户高层"]),
}  # fmt: skip
OUTCOMES = ["", "", "客户认可方案，等待内部审批", "需进一步技术交流", "对价格有顾虑", "同意安排试用", "暂无采购计划"]
NEXT_STEPS = ["发送正式报价", "回电确认需求", "安排技术交流", "跟进合同审批", "准备投标资料", "寄送样品", "约见决策人"]
TASK_SHARE = 0.05  # activities with an open follow-up task, due around today
ACTIVITY_BATCH = 50_000


class ActivityGenerator:
    """Activities at the generated accounts, read back from the database (so they can be added later).

    Per account a varying number (some none), happened over the last two years at office hours, kinds
    mixed; recorded by the account's owner, who is the one participant; one or two of the account's
    contacts met; TASK_SHARE of them with an open task for the owner due within 14 days of today."""

    def __init__(self, *, activities: int, seed: int):
        from django.utils import timezone

        self.n = activities
        self.rng = random.Random(seed * 31 + 7)
        self.today = timezone.localdate()
        self.tasks = 0
        self.links = 0

    def _sizes(self, n_accounts: int) -> list[int]:
        """Activities per account: exactly self.n in all, skewed (a few accounts see a lot, some none)."""
        weights = [self.rng.expovariate(1.0) ** 1.5 for _ in range(n_accounts)]
        total = sum(weights)
        sizes = [int(self.n * w / total) for w in weights]
        for _ in range(self.n - sum(sizes)):
            sizes[self.rng.randrange(n_accounts)] += 1
        return sizes

    def run(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from kam.accounts.models import Account, AccountContact
        from kam.engagement.models import Activity, Task

        started = time.monotonic()
        rng = self.rng
        adapt = connection.ops.adapt_datetimefield_value
        activity_columns = ["id", "created_at", "updated_at", "version", "account_id", "kind", "happened_at", "subject",
                            "notes", "outcome", "next_step", "next_step_due", "created_by_id", "is_archived"]  # fmt: skip
        task_columns = ["id", "created_at", "updated_at", "version", "title", "notes", "account_id", "contact_id",
                        "activity_id", "assignee_id", "due_at", "status", "done_at", "created_by_id", "kind",
                        "documents", "remind_at"]  # fmt: skip
        contacts_through, participants_through = Activity.contacts.through, Activity.participants.through
        contact_columns, participant_columns = ["id", "activity_id", "contact_id"], ["id", "activity_id", "user_id"]
        for model, columns in [(Activity, activity_columns), (Task, task_columns), (contacts_through, contact_columns),
                               (participants_through, participant_columns)]:  # fmt: skip
            concrete = {f.column for f in model._meta.concrete_fields}
            assert concrete == set(columns), f"{model.__name__}'s columns changed: {concrete ^ set(columns)}"

        accounts = list(Account.objects.order_by("pk").values_list("pk", "owner_id"))
        contacts_of: dict[int, list[int]] = {}
        for account_id, contact_id in AccountContact.objects.order_by("account_id", "id").values_list(
            "account_id", "contact_id"
        ):
            contacts_of.setdefault(account_id, []).append(contact_id)
        kinds = list(ACTIVITY_KINDS)
        kind_weights = [ACTIVITY_KINDS[k][0] for k in kinds]
        today_start = timezone.make_aware(datetime.combine(self.today, datetime.min.time()))
        activity_pk, task_pk = next_id(Activity), next_id(Task)
        contact_link_pk, participant_pk = next_id(contacts_through), next_id(participants_through)
        activities, tasks, contact_links, participant_links = [], [], [], []
        done = 0

        def flush():
            nonlocal activities, tasks, contact_links, participant_links
            with transaction.atomic():
                insert_rows(Activity, activity_columns, activities)
                insert_rows(contacts_through, contact_columns, contact_links)
                insert_rows(participants_through, participant_columns, participant_links)
                insert_rows(Task, task_columns, tasks)
            self.tasks += len(tasks)
            self.links += len(contact_links)
            activities, tasks, contact_links, participant_links = [], [], [], []

        for (account_id, owner_id), size in zip(accounts, self._sizes(len(accounts)), strict=True):
            met = contacts_of.get(account_id, [])
            for _ in range(size):
                kind = rng.choices(kinds, kind_weights)[0]
                # Office hours (local) on one of the last 730 days.
                happened = today_start - timedelta(days=rng.randint(1, 730), hours=-rng.randint(8, 18),
                                                   minutes=-rng.randrange(60))  # fmt: skip
                at = adapt(happened)
                next_step, due = "", None
                if rng.random() < TASK_SHARE:
                    next_step = rng.choice(NEXT_STEPS)
                    due = today_start + timedelta(days=rng.randint(-14, 14), hours=rng.randint(9, 17))
                    tasks.append((task_pk, at, at, 1, next_step, "", account_id, met[0] if met else None, activity_pk,
                                  owner_id, adapt(due), "open", None, owner_id, "follow_up", "[]", None))  # fmt: skip
                    task_pk += 1
                activities.append((activity_pk, at, at, 1, account_id, kind, at, happened_subject(rng, kind), "",
                                   rng.choice(OUTCOMES), next_step, adapt(due) if due else None, owner_id, False))  # fmt: skip
                for contact_id in rng.sample(met, min(len(met), rng.randint(1, 2))):
                    contact_links.append((contact_link_pk, activity_pk, contact_id))
                    contact_link_pk += 1
                participant_links.append((participant_pk, activity_pk, owner_id))
                participant_pk += 1
                activity_pk += 1
                done += 1
            if len(activities) >= ACTIVITY_BATCH:
                flush()
                if done % 500_000 < ACTIVITY_BATCH:
                    log(f"activities: {done:,}")
        flush()
        seconds = time.monotonic() - started
        log(f"activities: {done:,} in {seconds:.0f} s ({done / max(seconds, 0.001):,.0f}/s), "
            f"{self.links:,} contacts met, {self.tasks:,} open tasks")  # fmt: skip


def happened_subject(rng: random.Random, kind: str) -> str:
    return rng.choice(ACTIVITY_KINDS[kind][1])


def add_activities(n: int, seed: int) -> float:
    """Write n activities (and their tasks and links) with the engagement indexes dropped; the seconds."""
    from django.db import connection

    from kam.engagement.models import Activity, Task

    started = time.monotonic()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1048576")
    with DroppedIndexes(Activity), DroppedIndexes(Task):
        ActivityGenerator(activities=n, seed=seed).run()
    reset_sequences([Activity, Task, Activity.contacts.through, Activity.participants.through])
    return time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# opportunities, sales lines and quotas (issue 3): added to an archive generated before


PRODUCT_LINES = {"工业阀门": ["DN50 球阀", "DN80 闸阀", "蝶阀", "调节阀"], "仪器仪表": ["压力变送器", "流量计", "液位计"],
                 "自动化系统": ["PLC 控制柜", "DCS 模块", "SCADA 软件"], "售后服务": ["年度维保", "备件包", "现场调试"],
                 "耗材": ["密封件", "滤芯", "垫片"]}  # fmt: skip
COMPETITORS = [
    "艾默生",
    "西门子",
    "霍尼韦尔",
    "横河电机",
    "ABB",
    "施耐德电气",
    "中控技术",
    "和利时",
    "川仪股份",
    "福斯",
]
OPPORTUNITY_SOURCES = ["老客户推荐", "展会", "官网咨询", "招标信息", "电话营销", "渠道伙伴", "客户来电"]
STOP_REASONS = [
    "客户项目取消",
    "预算冻结，暂停采购",
    "需求变更，不再匹配",
    "客户被并购，决策链变化",
    "我方评估无盈利空间",
]
LOSS_REASONS = ["价格高于竞争对手", "技术方案未被采纳", "交期无法满足", "客户决策层关系不足", "竞争对手已有长期合同"]
LESSONS = ["尽早接触决策人", "报价前确认预算", "提前安排样品测试", "加强技术交流", "关注竞争对手动态"]
# Status shares (issue 3 benchmark): ~55 % open, 20 % won, 20 % lost, 5 % stopped.
STATUS_WEIGHTS = {"open": 55, "won": 20, "lost": 20, "stopped": 5}
OPEN_STAGE_WEIGHTS = [40, 30, 20, 10]  # an open opportunity in the 1st … 4th open stage
# Forecast categories by the stage an open opportunity is in (pipeline, best_case, commit, omitted).
CATEGORY_WEIGHTS = {1: [80, 10, 2, 8], 2: [60, 25, 8, 7], 3: [35, 40, 20, 5], 4: [15, 35, 45, 5]}
CATEGORIES = ["pipeline", "best_case", "commit", "omitted"]
# Month of year → sales weight: the Spring Festival (Jan/Feb) low, half-year and year-end highs.
SEASON = {1: 0.8, 2: 0.55, 3: 1.0, 4: 1.0, 5: 1.05, 6: 1.25, 7: 0.95, 8: 0.9, 9: 1.05, 10: 0.9, 11: 1.1, 12: 1.45}
SALES_MONTHS = 36
SALES_SHARE = 0.6  # accounts with sales lines
SALES_BATCH = 200_000
OPPORTUNITY_BATCH = 50_000


def _months_back(today: date, n: int) -> list[date]:
    """The first days of the last n months, oldest first, the current month last."""
    months, year, month = [], today.year, today.month
    for _ in range(n):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _check_columns(model, columns: list[str]) -> None:
    concrete = {f.column for f in model._meta.concrete_fields}
    assert concrete == set(columns), f"{model.__name__}'s columns changed: {concrete ^ set(columns)}"


class OpportunityGenerator:
    """Opportunities at the generated accounts with their stage history (StageChange, one row per move).

    Owner and creator: the account's owner. Created over the last three years; ~55 % open (spread over
    the four open stages, expected to close within the next 12 months, ~15 % of them overdue), 20 % won,
    20 % lost and 5 % stopped (with reason and review; closed_in_stage where they ended). reached_order is
    the furthest open/won stage, as the services keep it. Accounts are picked skewed (some have many)."""

    def __init__(self, *, opportunities: int, seed: int):
        from django.utils import timezone

        self.n = opportunities
        self.rng = random.Random(seed * 37 + 11)
        self.today = timezone.localdate()
        self.changes = 0

    def run(self) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from kam.accounts.models import Account
        from kam.sales.models import Opportunity, Pipeline, StageChange, StageKind

        started = time.monotonic()
        rng, today = self.rng, self.today
        adapt = connection.ops.adapt_datetimefield_value
        columns = ["id", "created_at", "updated_at", "version", "account_id", "pipeline_id", "stage_id", "name", "amount",
                   "currency", "expected_close", "owner_id", "product_lines", "competitors", "next_step", "source",
                   "status", "closed_at", "close_reason", "review_what_happened", "review_competitor", "review_lesson",
                   "forecast_category", "spin_situation", "spin_problem", "spin_implication", "spin_need_payoff",
                   "stage_entered_at", "reached_order", "closed_in_stage_id", "is_archived", "created_by_id"]  # fmt: skip
        change_columns = ["id", "opportunity_id", "from_stage_id", "to_stage_id", "at", "by_id", "note"]
        _check_columns(Opportunity, columns)
        _check_columns(StageChange, change_columns)
        pipeline = Pipeline.objects.get(is_default=True)
        stages = list(pipeline.stages.order_by("order"))
        open_stages = [s for s in stages if s.kind == StageKind.OPEN]
        won = next(s for s in stages if s.kind == StageKind.WON)
        lost = next(s for s in stages if s.kind == StageKind.LOST)
        accounts = list(Account.objects.filter(is_archived=False, owner__isnull=False).order_by("pk")
                        .values_list("pk", "owner_id"))  # fmt: skip
        weights = [rng.expovariate(1.0) ** 2 for _ in accounts]
        cumulative, total = [], 0.0
        for weight in weights:
            total += weight
            cumulative.append(total)
        picks = rng.choices(accounts, cum_weights=cumulative, k=self.n)
        statuses, status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
        now = timezone.now()
        day_start = timezone.make_aware(datetime.combine(today, datetime.min.time()))
        lines = list(PRODUCT_LINES)
        opportunity_pk, change_pk = next_id(Opportunity), next_id(StageChange)
        rows, changes = [], []
        done = 0

        def flush():
            nonlocal rows, changes
            with transaction.atomic():
                insert_rows(Opportunity, columns, rows)
                insert_rows(StageChange, change_columns, changes)
            self.changes += len(changes)
            rows, changes = [], []

        for account_id, owner_id in picks:
            status = rng.choices(statuses, status_weights)[0]
            # Closed ones over the last three years; open ones mostly recent (a few stale for years).
            age = rng.randint(1, 3 * 365) if status != "open" else min(3 * 365, 1 + int(rng.expovariate(1 / 200)))
            created = day_start - timedelta(days=age, hours=-rng.randint(8, 18), minutes=-rng.randrange(60))
            if status == "open":
                reached = rng.choices([1, 2, 3, 4], OPEN_STAGE_WEIGHTS)[0]
                end = now
            else:
                reached = 4 if status == "won" else rng.choices([1, 2, 3, 4], [35, 30, 22, 13])[0]
                end = min(now - timedelta(hours=1), created + timedelta(days=rng.randint(20, 360)))
            path = open_stages[:reached]
            if len(path) > 2 and rng.random() < 0.1:  # now and then a stage skipped
                path = [path[0], *path[2:]]
            if status == "won":
                path = [*path, won]
            elif status == "lost":
                path = [*path, lost]
            span = max((end - created).total_seconds(), 60)
            moments = sorted(rng.random() * span for _ in range(len(path) - 1))
            times = [created] + [created + timedelta(seconds=s) for s in moments]
            if status in ("won", "lost"):
                times[-1] = end  # the move to won / lost closes it
            previous = None
            for stage, at in zip(path, times, strict=True):
                changes.append((change_pk, opportunity_pk, previous.pk if previous else None, stage.pk, adapt(at),
                                owner_id, ""))  # fmt: skip
                change_pk += 1
                previous = stage
            current = path[-1]
            last_open = reached if status != "won" else won.order
            amount = Decimal(max(10_000, round(rng.lognormvariate(12.2, 1.1), -3)))
            product_lines = rng.sample(lines, rng.choice([1, 1, 1, 2]))
            competitors = rng.sample(COMPETITORS, rng.choice([0, 1, 1, 2, 2, 3]))
            closed_at = close_reason = what_happened = lesson = review_competitor = ""
            closed_in = None
            next_step = ""
            if status == "open":
                if rng.random() < 0.15:  # overdue
                    expected = today - timedelta(days=rng.randint(1, 90))
                else:
                    expected = today + timedelta(days=rng.randint(0, 365))
                category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS[open_stages.index(current) + 1])[0]
                next_step = rng.choice(NEXT_STEPS)
                closed_at = None
            else:
                expected = (end + timedelta(days=rng.randint(-30, 30))).date()
                closed_at = adapt(end)
                category = "commit" if status == "won" else rng.choice(CATEGORIES)
                if status != "won":
                    closed_in = open_stages[reached - 1].pk if path[-1] == lost else current.pk
                    close_reason = rng.choice(LOSS_REASONS if status == "lost" else STOP_REASONS)
                    what_happened = close_reason + "，" + rng.choice(["客户最终选择了其他供应商", "项目评审未通过",
                                                                      "客户内部调整", "预算未获批准"])  # fmt: skip
                    lesson = rng.choice(LESSONS)
                    if status == "lost" and competitors and rng.random() < 0.8:
                        review_competitor = rng.choice(competitors)
            name = f"{rng.choice([2024, 2025, 2026])}年{product_lines[0]}{rng.choice(['采购', '改造', '扩产', '替换', '维保'])}项目"
            rows.append((opportunity_pk, adapt(created), adapt(times[-1]), len(path), account_id, pipeline.pk, current.pk,
                         name, str(amount), "CNY", expected.isoformat(), owner_id,
                         json.dumps(product_lines, ensure_ascii=False), json.dumps(competitors, ensure_ascii=False),
                         next_step, rng.choice(OPPORTUNITY_SOURCES), status, closed_at, close_reason, what_happened,
                         review_competitor, lesson, category, "", "", "", "", adapt(times[-1]), last_open, closed_in,
                         False, owner_id))  # fmt: skip
            opportunity_pk += 1
            done += 1
            if len(rows) >= OPPORTUNITY_BATCH:
                flush()
                if done % 100_000 < OPPORTUNITY_BATCH:
                    log(f"opportunities: {done:,}")
        flush()
        seconds = time.monotonic() - started
        log(f"opportunities: {done:,} with {self.changes:,} stage changes in {seconds:.0f} s")


class SalesGenerator:
    """Sales lines (SalesRecord) over the last 36 months for SALES_SHARE of the accounts.

    Heavy-tailed like real revenue: each account gets a Pareto weight (α 1.05, capped), its number of lines
    grows with the square root of the weight and the size of its lines too, so about a fifth of the accounts
    make about four fifths of the revenue. Months follow a seasonal pattern (Spring Festival low, June and
    December high) and a per-account trend. Orders of 1–6 lines on one day; ~1 % returns. Credited to the
    account's owner. Order numbers are generated ascending and the accounts walked in id order, so the
    unique (order, line) index and the (account, date) index are appended to rather than updated at random
    (no need to drop them). The monthly aggregates are then rebuilt by sales_months_recompute()."""

    def __init__(self, *, lines: int, seed: int):
        from django.utils import timezone

        self.n = lines
        self.rng = random.Random(seed * 41 + 3)
        self.today = timezone.localdate()

    def _sizes(self, n_accounts: int) -> tuple[list[int], list[float]]:
        rng = self.rng
        weights = [min(rng.paretovariate(1.05), 3000.0) for _ in range(n_accounts)]
        roots = [w**0.5 for w in weights]
        total = sum(roots)
        sizes = [int(self.n * r / total) for r in roots]
        for _ in range(self.n - sum(sizes)):
            sizes[rng.randrange(n_accounts)] += 1
        return sizes, roots

    def run(self, actor_id: int) -> None:
        from django.db import connection, transaction
        from django.utils import timezone

        from kam.accounts.models import Account
        from kam.sales.models import SalesImport, SalesImportStatus, SalesRecord

        started = time.monotonic()
        rng, today = self.rng, self.today
        columns = ["account_id", "order_number", "line_number", "date", "product_line", "product", "quantity", "amount",
                   "gross_margin", "currency", "is_return", "source", "sales_import_id", "created_by_id",
                   "credited_to_id", "created_at"]  # fmt: skip
        _check_columns(SalesRecord, ["id", *columns])
        accounts = list(Account.objects.filter(owner__isnull=False).order_by("pk").values_list("pk", "owner_id"))
        chosen = sorted(rng.sample(range(len(accounts)), int(len(accounts) * SALES_SHARE)))
        accounts = [accounts[i] for i in chosen]
        sizes, scales = self._sizes(len(accounts))
        batch_import = SalesImport.objects.create(created_by_id=actor_id, file_name="bench-generated.csv",
                                                  status=SalesImportStatus.DONE, rows=self.n, created=self.n)  # fmt: skip
        stamp = str(connection.ops.adapt_datetimefield_value(timezone.now()))
        tail = ("CNY",)
        months = _months_back(today, SALES_MONTHS)
        # Per month: its days as ISO texts (the current month up to yesterday).
        month_days = []
        for first in months:
            last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            last = min(last, today - timedelta(days=1))
            month_days.append([(first + timedelta(days=d)).isoformat() for d in range((last - first).days + 1)] or
                              [first.isoformat()])  # fmt: skip
        season = [SEASON[m.month] for m in months]
        product_lines = list(PRODUCT_LINES)
        products = [PRODUCT_LINES[p] for p in product_lines]
        pg = connection.vendor == "postgresql"
        table = connection.ops.quote_name(SalesRecord._meta.db_table)
        names = ", ".join(columns)
        order = 0
        rows: list = []
        done = 0
        revenue_by_account = []

        def flush():
            nonlocal rows
            with transaction.atomic(), connection.cursor() as cursor:
                if pg:
                    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        copy.write("".join(rows))
                else:
                    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
                                       rows)  # fmt: skip
            rows = []

        constants = ("import", batch_import.pk, actor_id)
        pg_tail_1 = "\tCNY\t"
        pg_tail_2 = f"\timport\t{batch_import.pk}\t{actor_id}\t"
        for (account_id, owner_id), size, scale in zip(accounts, sizes, scales, strict=True):
            if not size:
                revenue_by_account.append(0)
                continue
            # Trend: −20 % … +50 % over the three years; seasonality; each month's share of the lines.
            growth = rng.uniform(-0.2, 0.5)
            cumulative, total = [], 0.0
            for index, weight in enumerate(season):
                total += weight * (1 + growth * index / (SALES_MONTHS - 1))
                cumulative.append(total)
            line_months = rng.choices(range(SALES_MONTHS), cum_weights=cumulative, k=size)
            price = max(20, int(300 * scale))
            written = 0
            revenue = 0
            while written < size:
                order += 1
                order_number = f"G{order:010d}"
                days = month_days[line_months[written]]
                day = days[rng.randrange(len(days))]
                count = min(size - written, rng.choice((1, 1, 2, 2, 3, 4, 5, 6)))
                for line in range(1, count + 1):
                    index = rng.randrange(5)
                    quantity = rng.randint(1, 200)
                    amount = quantity * rng.randint(price // 2, price * 2)
                    margin = amount * rng.randint(5, 40) // 100
                    if rng.random() < 0.01:  # a return
                        quantity, amount, margin, flag = -quantity, -amount, -margin, 1
                    else:
                        flag = 0
                    revenue += amount
                    product_line = product_lines[index]
                    product = rng.choice(products[index])
                    if pg:
                        rows.append(f"{account_id}\t{order_number}\t{line}\t{day}\t{product_line}\t{product}\t"
                                    f"{quantity}\t{amount}.00\t{margin}.00{pg_tail_1}{flag}{pg_tail_2}{owner_id}\t"
                                    f"{stamp}\n")  # fmt: skip
                    else:
                        rows.append((account_id, order_number, line, day, product_line, product, quantity,
                                     f"{amount}.00", f"{margin}.00", *tail, flag, *constants, owner_id, stamp))  # fmt: skip
                written += count
            revenue_by_account.append(revenue)
            done += size
            if len(rows) >= SALES_BATCH:
                flush()
                if done % 1_000_000 < SALES_BATCH:
                    log(f"sales lines: {done:,} ({done / (time.monotonic() - started):,.0f}/s)")
        flush()
        seconds = time.monotonic() - started
        revenue_by_account.sort(reverse=True)
        top = sum(revenue_by_account[: len(revenue_by_account) // 5]) / max(1, sum(revenue_by_account))
        log(f"sales lines: {done:,} in {seconds:.0f} s ({done / max(seconds, 0.001):,.0f}/s) at {len(accounts):,} "
            f"accounts, {order:,} orders; the top 20 % of these accounts make {top:.0%} of the revenue")  # fmt: skip


def add_quotas() -> int:
    """A quota for every active KA manager and month of the current year: the sales credited to them in the
    same month a year before, raised 5–25 % and rounded to 10,000 CNY (at least 100,000)."""
    from django.db.models import Sum
    from django.utils import timezone

    from kam.org.models import Quota, Role, User
    from kam.sales.models import SalesCredit

    rng = random.Random(SEED)
    year = timezone.localdate().year
    credits = {(owner, month.month): amount for owner, month, amount in
               SalesCredit.objects.filter(month__year=year - 1).values_list("owner_id", "month")
               .annotate(a=Sum("amount")).values_list("owner_id", "month", "a")}  # fmt: skip
    managers = list(User.objects.filter(role=Role.KA_MANAGER, is_active=True).values_list("pk", flat=True))
    existing = set(Quota.objects.filter(month__year=year, user__isnull=False).values_list("user_id", "month__month"))
    quotas = []
    for user_id in managers:
        for month in range(1, 13):
            if (user_id, month) in existing:
                continue
            base = credits.get((user_id, month)) or Decimal(0)
            amount = max(Decimal(100_000), (base * Decimal(str(rng.uniform(1.05, 1.25)))).quantize(Decimal("1e4")))
            quotas.append(Quota(user_id=user_id, month=date(year, month, 1), amount=amount))
    Quota.objects.bulk_create(quotas, batch_size=1000)
    return len(quotas)


def add_opportunities(n: int, seed: int) -> float:
    from django.db import connection

    from kam.sales.models import Opportunity, StageChange

    started = time.monotonic()
    _bulk_pragmas(connection)
    with DroppedIndexes(Opportunity):
        OpportunityGenerator(opportunities=n, seed=seed).run()
    reset_sequences([Opportunity, StageChange])
    from kam.sales import services

    step = time.monotonic()  # the funnel's and the forecast's cells, kept by the services, rebuilt after a bulk load
    log(f"funnel and pipeline cells: {services.opportunity_cells_recompute():,} in {time.monotonic() - step:.0f} s")
    return time.monotonic() - started


def add_sales(n: int, seed: int) -> dict:
    """n sales lines, their monthly aggregates, the quotas, and (if the services have it) the statistical
    forecasts; the seconds of each step."""
    from django.db import connection

    from kam.org.models import User
    from kam.sales import services
    from kam.sales.models import SalesImport, SalesRecord

    seconds = {}
    started = time.monotonic()
    _bulk_pragmas(connection)
    admin = User.objects.get(username=BENCH_ADMIN)
    SalesGenerator(lines=n, seed=seed).run(admin.pk)
    reset_sequences([SalesRecord, SalesImport])
    seconds["sales_seconds"] = round(time.monotonic() - started, 1)
    step = time.monotonic()
    months = services.sales_months_recompute()
    seconds["sales_months_seconds"] = round(time.monotonic() - step, 1)
    log(f"monthly aggregates: {months:,} account-months in {seconds['sales_months_seconds']:.0f} s")
    step = time.monotonic()
    log(f"quotas: {add_quotas():,} in {time.monotonic() - step:.0f} s")
    if hasattr(services, "statistical_forecasts_recompute"):
        step = time.monotonic()
        services.statistical_forecasts_recompute()
        seconds["forecasts_seconds"] = round(time.monotonic() - step, 1)
        log(f"statistical forecasts in {seconds['forecasts_seconds']:.0f} s")
    else:
        log("no statistical_forecasts_recompute() yet: no statistical forecasts generated")
    return seconds


def _bulk_pragmas(connection) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1048576")


def analyze() -> None:
    """Refresh the planner statistics (PostgreSQL's autovacuum would do this on its own)."""
    from django.db import connection

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"ANALYZE in {time.monotonic() - started:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=0,
                        help="activities to add (with contacts met, participants, ~5 %% open tasks); 0: none. "
                             "Added to an archive generated earlier at the same size, too")  # fmt: skip
    parser.add_argument("--opportunities", type=int, default=int(os.environ.get("BENCH_OPPORTUNITIES", 0)),
                        help="opportunities to add, with their stage history (issue 3; env BENCH_OPPORTUNITIES); "
                             "0: none. Added to an archive generated earlier, too")  # fmt: skip
    parser.add_argument("--sales", type=int, default=int(os.environ.get("BENCH_SALES", 0)),
                        help="sales lines to add over 36 months, with monthly aggregates, quotas and statistical "
                             "forecasts (issue 3; env BENCH_SALES); 0: none. Added to an archive generated earlier, "
                             "too")  # fmt: skip
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--analyze", choices=["auto", "yes", "no"], default="auto",
                        help="run ANALYZE afterwards (auto: on PostgreSQL only, as autovacuum would)")  # fmt: skip
    args = parser.parse_args(argv)
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from kam.accounts.models import Account
    from kam.engagement.models import Activity
    from kam.org.models import User
    from kam.sales.models import Opportunity, SalesRecord

    call_command("migrate", interactive=False, verbosity=0)
    marker = settings.DATA_DIR / "bench-generated.json"
    wanted = {"accounts": args.accounts, "contacts": args.contacts, "managers": args.managers, "seed": args.seed,
              "database": connection.vendor}  # fmt: skip
    state = json.loads(marker.read_text()) if marker.exists() else {}
    run_analyze = args.analyze == "yes" or (args.analyze == "auto" and connection.vendor == "postgresql")
    started = time.monotonic()
    if Account.objects.exists() or User.objects.exists():
        if state.get("size") != wanted:
            print("The database already has other data; point KAM_DATA_DIR / KAM_DATABASE_URL at an empty one.",
                  file=sys.stderr)  # fmt: skip
            return 2
        fresh = False
    else:
        if args.accounts < 1 or args.contacts < args.accounts:
            print("Give at least one account and at least one contact per account.", file=sys.stderr)
            return 2
        log(f"generating {args.accounts:,} accounts and {args.contacts:,} contacts into {connection.vendor}")
        Generator(accounts=args.accounts, contacts=args.contacts, seed=args.seed).run(args.managers)
        state = {"size": wanted, "generation_seconds": round(time.monotonic() - started, 1)}
        marker.write_text(json.dumps(state, indent=2))
        fresh = True
    # What is added on top of the accounts and contacts, each once (the marker records it): the number
    # wanted, what is there, how to add it. Another number than the one generated is refused.
    extras = [
        ("activities", args.activities, Activity, lambda: {"activities_seconds": round(add_activities(args.activities, args.seed), 1)}),
        ("opportunities", args.opportunities, Opportunity,
         lambda: {"opportunities_seconds": round(add_opportunities(args.opportunities, args.seed), 1)}),
        ("sales", args.sales, SalesRecord, lambda: add_sales(args.sales, args.seed)),
    ]  # fmt: skip
    added = False
    for name, number, model, add in extras:
        have = state.get(name, 0)
        if number in (0, have):
            continue
        if have or model.objects.exists():
            print(f"The database already has {model.objects.count():,} {name} (wanted {number:,}); "
                  "generate into an empty one.", file=sys.stderr)  # fmt: skip
            return 2
        log(f"adding {number:,} {name} to {args.accounts:,} accounts in {connection.vendor}")
        state.update(add(), **{name: number})
        marker.write_text(json.dumps(state, indent=2))
        added = True
    if not fresh and not added:
        log(f"already generated at this size ({args.accounts:,} accounts, {args.contacts:,} contacts, "
            f"{state.get('activities', 0):,} activities, {state.get('opportunities', 0):,} opportunities, "
            f"{state.get('sales', 0):,} sales lines); nothing to do")  # fmt: skip
        return 0
    if run_analyze:
        analyze()
    total = time.monotonic() - started
    log(f"done in {total:.0f} s")
    if fresh:
        state["total_seconds"] = round(total, 1)
    marker.write_text(json.dumps(state, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
