"""Fill sales 0003's new columns on existing rows (its own migration: on PostgreSQL, rows updated in the same
transaction as the schema change would leave deferred trigger events that block the index builds)."""

from django.db import migrations


def backfill(apps, schema_editor):
    """Existing opportunities get their furthest stage and closing stage from their history; existing lines
    are credited to their account's owner, and the credited sales are summed. Set-based: a few statements
    whatever the number of rows."""
    from django.db.models import Count, F, Max, OuterRef, Subquery, Sum
    from django.db.models.functions import Coalesce, TruncMonth

    Opportunity = apps.get_model("sales", "Opportunity")
    StageChange = apps.get_model("sales", "StageChange")
    Stage = apps.get_model("sales", "Stage")
    SalesRecord = apps.get_model("sales", "SalesRecord")
    SalesCredit = apps.get_model("sales", "SalesCredit")
    Account = apps.get_model("accounts", "Account")
    reached = (StageChange.objects.filter(opportunity=OuterRef("pk")).exclude(to_stage__kind="lost")
               .values("opportunity").annotate(m=Max("to_stage__order")).values("m"))
    current = Stage.objects.filter(pk=OuterRef("stage_id")).exclude(kind="lost").values("order")
    Opportunity.objects.update(reached_order=Coalesce(Subquery(reached), Subquery(current), 0))
    lost_from = (StageChange.objects.filter(opportunity=OuterRef("pk"), to_stage__kind="lost")
                 .order_by("-at", "-id").values("from_stage_id")[:1])
    Opportunity.objects.filter(status="lost").update(closed_in_stage_id=Subquery(lost_from))
    Opportunity.objects.filter(status="stopped").update(closed_in_stage_id=F("stage_id"))
    owner = Account.objects.filter(pk=OuterRef("account_id")).values("owner_id")[:1]
    SalesRecord.objects.update(credited_to_id=Subquery(owner))
    sums = (SalesRecord.objects.filter(credited_to__isnull=False).annotate(m=TruncMonth("date"))
            .values("credited_to_id", "m").annotate(amount=Sum("amount"), margin=Sum("gross_margin"), n=Count("id"))
            .order_by())
    SalesCredit.objects.all().delete()  # a rebuild: the sums of every credited line
    SalesCredit.objects.bulk_create([
        SalesCredit(owner_id=row["credited_to_id"], month=row["m"], amount=row["amount"], gross_margin=row["margin"],
                    lines=row["n"])
        for row in sums
    ], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("sales", "0003_forecasts_quotas_work_plans"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
