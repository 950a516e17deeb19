"""sales 0003 fills the new columns of existing rows: an opportunity's furthest stage (the funnel, PIPE-1) and
closing stage (ANA-3), and the credit of existing sales lines to their account's owner (PIPE-7)."""

import importlib
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("sales", "0002_default_pipeline"), ("org", "0002_labels")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_0003_backfills_reached_and_closing_stage_and_credits_old_lines():
    executor = _migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User, Account = apps.get_model("org", "User"), apps.get_model("accounts", "Account")
    Stage, Opportunity = apps.get_model("sales", "Stage"), apps.get_model("sales", "Opportunity")
    StageChange, SalesRecord = apps.get_model("sales", "StageChange"), apps.get_model("sales", "SalesRecord")
    owner = User.objects.create(username="migr_owner", role="ka_manager")
    account = Account.objects.create(name="迁移测试有限公司", normalized_name="迁移测试", name_sort="q", owner=owner)
    if not Stage.objects.filter(pipeline__is_default=True).exists():  # a browser test before flushed the seed
        importlib.import_module("kam.sales.migrations.0002_default_pipeline").seed(apps, None)
    stages = {s.code: s for s in Stage.objects.filter(pipeline__is_default=True)}
    now = timezone.now()

    def opportunity(name, path, status):
        o = Opportunity.objects.create(account=account, pipeline_id=stages["potential"].pipeline_id, name=name,
                                       stage=stages[path[-1]], owner=owner, created_by=owner, status=status)  # fmt: skip
        previous = None
        for i, code in enumerate(path):
            StageChange.objects.create(opportunity=o, from_stage=previous, to_stage=stages[code],
                                       at=now + timezone.timedelta(minutes=i))  # fmt: skip
            previous = stages[code]
        return o.pk

    lost = opportunity("lost", ["potential", "intention", "proposal", "intention", "lost"], "lost")
    stopped = opportunity("stopped", ["potential", "intention"], "stopped")
    won = opportunity("won", ["potential", "intention", "proposal", "negotiation", "won"], "won")
    for line, (day, amount) in enumerate([(date(2026, 3, 2), "100.50"), (date(2026, 3, 30), "20"),
                                          (date(2026, 4, 1), "7")], start=1):  # fmt: skip
        SalesRecord.objects.create(account=account, order_number="M1", line_number=line, date=day,
                                   product_line="p", quantity=1, amount=Decimal(amount), gross_margin=Decimal(1),
                                   source="import")  # fmt: skip

    _migrate(None)
    from kam.sales.models import Opportunity as Now
    from kam.sales.models import SalesCredit
    from kam.sales.models import SalesRecord as Lines

    rows = {o.name: o for o in Now.objects.select_related("closed_in_stage")}
    assert rows["lost"].reached_order == stages["proposal"].order  # went back, then lost: the furthest counts
    assert rows["lost"].closed_in_stage.code == "intention"  # where it was when lost
    assert rows["stopped"].reached_order == stages["intention"].order
    assert rows["stopped"].closed_in_stage.code == "intention"
    assert rows["won"].reached_order == stages["won"].order and rows["won"].closed_in_stage is None
    assert set(Lines.objects.values_list("credited_to_id", flat=True)) == {owner.pk}
    credits = {(c.month, c.amount, c.lines) for c in SalesCredit.objects.filter(owner_id=owner.pk)}
    assert credits == {(date(2026, 3, 1), Decimal("120.50"), 2), (date(2026, 4, 1), Decimal("7.00"), 1)}
    assert {lost, stopped, won} == {o.pk for o in rows.values()}
