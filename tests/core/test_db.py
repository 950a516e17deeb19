"""kam.core.db: planner statistics, one-call bulk inserts and the write-behind thread of large imports
(ARC-8), on SQLite and PostgreSQL alike."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from kam.accounts.models import Account, SearchTerm, Tag
from kam.accounts.names import normalize_company_name
from kam.core.db import WriteBehind, analyze, bulk_insert, insert_objects

pytestmark = pytest.mark.django_db

AWKWARD = ["tab\there", "new\nline", "back\\slash", "\\N", "carriage\rreturn", "引号'\"", "emoji😀", "  spaced  "]


def _terms(kind="z"):
    return sorted(SearchTerm.objects.filter(kind=kind).values_list("object_id", "term"))


def test_arc8_bulk_insert_keeps_any_text_exactly():
    """COPY's text format and SQLite's JSON array both carry tabs, newlines, backslashes and \\N."""
    rows = [("z", i, term) for i, term in enumerate(AWKWARD)]
    bulk_insert(SearchTerm, ("kind", "object_id", "term"), rows).run()
    assert _terms() == sorted((i, term) for i, term in enumerate(AWKWARD))


def test_arc8_write_behind_writes_in_the_callers_transaction_and_rolls_back_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        with WriteBehind() as writer:
            writer.submit(bulk_insert(SearchTerm, ("kind", "object_id", "term"), [("z", 1, "一"), ("z", 2, "二")]))
            writer.submit(bulk_insert(SearchTerm, ("kind", "object_id", "term"), [("z", 3, "三")]))
        assert _terms() == [(1, "一"), (2, "二"), (3, "三")]  # visible to the caller: the same transaction
        raise RuntimeError("the caller fails")
    assert _terms() == []


def test_arc8_write_behind_raises_the_helpers_error_in_the_caller_as_djangos():
    row = ("z", 1, "重复")
    with pytest.raises(IntegrityError), transaction.atomic(), WriteBehind() as writer:
        writer.submit(bulk_insert(SearchTerm, ("kind", "object_id", "term"), [row, row]))
    assert _terms() == []


def test_arc8_write_behind_reports_the_callers_error_not_the_helpers():
    row = ("z", 1, "重复")
    with pytest.raises(ZeroDivisionError), transaction.atomic(), WriteBehind() as writer:
        writer.submit(bulk_insert(SearchTerm, ("kind", "object_id", "term"), [row, row]))
        1 / 0  # noqa: B018


def test_arc8_insert_objects_gives_ids_that_later_inserts_do_not_reuse():
    with transaction.atomic():
        tags = [Tag(name=f"批量{i}") for i in range(5)]
        insert_objects(Tag, tags, set_pks=True)
    assert sorted(Tag.objects.filter(name__startswith="批量").values_list("pk", "name")) == sorted(
        (t.pk, t.name) for t in tags
    )
    later = Tag.objects.create(name="之后")
    assert later.pk not in {t.pk for t in tags}


def test_arc8_analyze_refreshes_statistics_inside_a_loading_transaction(people):
    """The planner statistics count the transaction's own new rows (both databases)."""
    with transaction.atomic():
        insert_objects(Account, _accounts(people.manager, 300), set_pks=True)
        analyze(Account)
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL LIMIT 1",
                               [Account._meta.db_table])  # fmt: skip
                rows = int(cursor.fetchone()[0].split()[0])
            else:
                cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Account._meta.db_table])
                rows = int(cursor.fetchone()[0])
    assert rows == Account.objects.count() >= 300


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_arc8_stale_statistics_would_make_the_duplicate_lookup_scan(people):
    """Why imports call analyze() as the table grows: SQLite, told the table is tiny, answers an IN (…)
    of names (an import asks 500 at a time) with a scan of the whole table; with fresh statistics it
    looks them up."""
    names = [f"不存在的公司{i}" for i in range(50)]
    sql = (
        f"EXPLAIN QUERY PLAN SELECT * FROM accounts_account WHERE normalized_name IN ({', '.join(['%s'] * len(names))})"  # noqa: S608
    )
    with transaction.atomic():
        insert_objects(Account, _accounts(people.manager, 5), set_pks=True)
        analyze(Account)  # statistics of a nearly empty table, as at a new installation's start-up
        insert_objects(Account, _accounts(people.manager, 2000, start=5), set_pks=True)
        with connection.cursor() as cursor:
            cursor.execute(sql, names)
            assert "SCAN" in str(cursor.fetchall())
            analyze(Account)
            cursor.execute(sql, names)
            assert "USING INDEX" in str(cursor.fetchall())


def _accounts(owner, count, start=0):
    accounts = []
    for i in range(start, start + count):
        name = f"批量导入测试{i:05d}有限公司"
        accounts.append(Account(name=name, normalized_name=normalize_company_name(name), name_sort=name, owner=owner,
                                department_id=owner.department_id))  # fmt: skip
    return accounts


@pytest.mark.django_db(transaction=True)
def test_arc6_migration_to_the_natural_key_keeps_every_search_term():
    """accounts 0005 moves the terms to a table keyed by (kind, term, object_id), and back."""
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0004_list_filter_indexes")])
    old = executor.loader.project_state([("accounts", "0004_list_filter_indexes")]).apps.get_model(
        "accounts", "SearchTerm"
    )
    old.objects.bulk_create([old(kind="a", object_id=7, term=t) for t in ("中国", "国银", "银行", "zgyh")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert sorted(SearchTerm.objects.filter(object_id=7).values_list("term", flat=True)) == [
        "zgyh", "中国", "国银", "银行"
    ]  # fmt: skip
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0004_list_filter_indexes")])
    assert old.objects.filter(object_id=7).count() == 4
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
