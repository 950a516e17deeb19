"""Seed the default pipeline (PIPE-1, PIPE-2): the five funnel stages with their win probabilities, plus
lost, and each open stage's gate items. Names are left empty and shown through their code in the user's
language (see kam.sales.models.DEFAULT_STAGE_NAMES / DEFAULT_GATE_LABELS).

The five steps of the development process (PIPE-2) map onto the funnel stages as follows; a stage's gate
is what must hold to leave it:
    potential   ← (1) choose the target: potential need, first contact, go decision
    intention   ← (2) samples and information: insider, sample accepted, information complete, need confirmed
    proposal    ← (3) value assessment: chance of winning, obstacles, expected cost, plan
    negotiation ← (4) relationship with the key decision makers, and (5) closing: executive talks,
                  site / factory inspection, system support — all must hold before the deal is won.
"""

from decimal import Decimal

from django.db import migrations

STAGES = [
    # code, order, probability, kind, gate items as (code, automatic check)
    ("potential", 1, "10", "open", [("potential_need", ""), ("first_contact", ""), ("go_decision", "")]),
    ("intention", 2, "30", "open", [("insider", "insider"), ("sample_accepted", "sample_accepted"),
                                     ("information_complete", ""), ("need_confirmed", "")]),
    ("proposal", 3, "50", "open", [("chance_assessed", ""), ("obstacles_known", ""), ("expected_cost", ""),
                                    ("plan_made", "")]),
    ("negotiation", 4, "70", "open", [("decision_maker", "decision_maker"), ("executive_talks", ""),
                                       ("site_inspection", ""), ("system_support", "")]),
    ("won", 5, "100", "won", []),
    ("lost", 6, "0", "lost", []),
]  # fmt: skip


def seed(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    GateItem = apps.get_model("sales", "GateItem")
    if Pipeline.objects.filter(is_default=True).exists():
        return
    pipeline = Pipeline.objects.create(name="标准开发流程", is_default=True)
    for code, order, probability, kind, items in STAGES:
        stage = Stage.objects.create(pipeline=pipeline, code=code, order=order, probability=Decimal(probability),
                                     kind=kind)  # fmt: skip
        for position, (item_code, check) in enumerate(items, start=1):
            GateItem.objects.create(stage=stage, code=item_code, order=position, auto_check=check)


def unseed(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Pipeline.objects.filter(is_default=True, name="标准开发流程").delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
