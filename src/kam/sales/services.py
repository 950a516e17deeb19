"""Writes of sales: every write with a business rule, in a transaction, audited. Pages, the API,
imports and jobs all call these."""

import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, connection, connections, models, router, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from kam.accounts.models import Account, AccountContact, Attitude, BuyingRole, Contact
from kam.core import audit, scopes
from kam.core.edits import edit, lock, record_created, refuse_unknown, set_archived
from kam.core.errors import ConflictError, DuplicateError
from kam.core.models import AuditAction
from kam.engagement.models import ActivityKind
from kam.sales import forecasting, selectors
from kam.sales.models import (
    AccountPositioning,
    DevelopmentCost,
    ForecastSnapshot,
    FunnelCell,
    GateAutoCheck,
    GateCheck,
    GateItem,
    Opportunity,
    OpportunityStatus,
    OwnerForecastMonth,
    Pipeline,
    PipelineCell,
    SalesCredit,
    SalesMonth,
    SalesRecord,
    SalesSource,
    Sample,
    SampleAcceptance,
    Stage,
    StageChange,
    StageKind,
    WorkPlan,
    WorkPlanItem,
)

User = get_user_model()


# ---------------------------------------------------------------------------------------------
# --- pipeline (s1): opportunities, gates, stage moves, positioning, samples, costs


class GateError(ValidationError):
    """A stage's gate does not hold: `missing` names the items, in checklist order (PIPE-2)."""

    def __init__(self, message, *, missing: list[str]):
        super().__init__({"stage": [ValidationError(message, code="gate")]})
        self.missing = missing


OPPORTUNITY_FIELDS = [
    "name", "amount", "currency", "expected_close", "owner", "product_lines", "competitors", "next_step", "source",
    "forecast_category", "spin_situation", "spin_problem", "spin_implication", "spin_need_payoff",
]  # fmt: skip
OPPORTUNITY_CREATE_FIELDS = [*OPPORTUNITY_FIELDS, "pipeline"]
OPPORTUNITY_AUDITED = ["account", "pipeline", "stage", "status", "closed_at", "close_reason", "review_what_happened",
                       "review_competitor", "review_lesson", *OPPORTUNITY_FIELDS]  # fmt: skip
LIST_FIELDS = ("product_lines", "competitors")
MAX_LIST_ITEMS = 20
MAX_LIST_ITEM_LENGTH = 100
SAMPLE_FIELDS = ["opportunity", "product", "quantity", "unit", "sent_on", "contact", "agreed_standard", "accepted",
                 "result_note"]  # fmt: skip
COST_FIELDS = ["opportunity", "kind", "amount", "currency", "hours", "rate", "incurred_on", "note"]
POSITIONING_FIELDS = ["growth_type", "risk_assessment", "background_check", "needs_survey", "difficulty"]
GATE_ITEM_FIELDS = ["label", "order", "is_active", "auto_check"]


def max_deal_amount() -> Decimal:
    return Decimal(settings.KAM["MAX_DEAL_AMOUNT"])


def stuck_after_days(stage: Stage) -> int:
    return stage.stuck_after_days or settings.KAM["OPPORTUNITY_STUCK_DAYS"]


def is_stuck(opportunity: Opportunity, *, now=None) -> bool:
    """Open and in its stage longer than the stage allows (PIPE-2: flagged, not blocked)."""
    if opportunity.status != OpportunityStatus.OPEN:
        return False
    now = now or timezone.now()
    return now - opportunity.stage_entered_at > timedelta(days=stuck_after_days(opportunity.stage))


def _full_clean(instance, errors: dict) -> None:
    """full_clean's errors by field (relations excluded), plus the lengths of long texts."""
    exclude = [f.name for f in instance._meta.fields if f.is_relation] + list(errors)
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as e:
        for key, messages in e.message_dict.items():
            errors.setdefault(key, messages)
    for field in instance._meta.fields:
        if isinstance(field, models.TextField) and field.max_length and field.name not in errors:
            try:
                MaxLengthValidator(field.max_length)(getattr(instance, field.attname) or "")
            except ValidationError as e:
                errors[field.name] = e.messages


def _set_texts(instance, fields: dict, names) -> None:
    for name in names:
        if name in fields:
            value = fields[name]
            setattr(instance, name, value.strip() if isinstance(value, str) else ("" if value is None else value))


def _money(value, field: str, errors: dict, *, required: bool = True) -> Decimal | None:
    """A non-negative Decimal amount no larger than KAM["MAX_DEAL_AMOUNT"], or an error naming the field."""
    if value is None or value == "":
        if required:
            errors[field] = [_("This field is required.")]
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[field] = [_("Enter a number.")]
        return None
    if not amount.is_finite():
        errors[field] = [_("Enter a number.")]
        return None
    if amount < 0:
        errors[field] = [_("The amount cannot be negative.")]
        return None
    if amount > max_deal_amount():
        errors[field] = [_("The amount is larger than %(max)s.") % {"max": max_deal_amount()}]
        return None
    if amount != amount.quantize(Decimal("0.01")):
        errors[field] = [_("Use at most two decimal places.")]
        return None
    return amount


def _currency(value, errors: dict, field: str = "currency") -> str:
    text = (value or "").strip().upper() if isinstance(value, str) else ""
    if len(text) != 3 or not text.isascii() or not text.isalpha():
        errors[field] = [_("Enter a three-letter currency code such as CNY.")]
    return text


def _text_list(value, field: str, errors: dict) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors[field] = [_("Give a list of names.")]
        return []
    items = []
    for v in value:
        v = v.strip()
        if v and v not in items:
            items.append(v)
    if len(items) > MAX_LIST_ITEMS:
        errors[field] = [_("Give at most %(n)s entries.") % {"n": MAX_LIST_ITEMS}]
    elif any(len(v) > MAX_LIST_ITEM_LENGTH for v in items):
        errors[field] = [_("Each entry has at most %(n)s characters.") % {"n": MAX_LIST_ITEM_LENGTH}]
    return items


def _colleague(value, field: str, errors: dict):
    user = value
    if user is not None and not isinstance(user, User):
        try:
            user = User.objects.filter(pk=int(user)).first()
        except (TypeError, ValueError):
            user = None
    if user is None or not user.is_active:
        errors[field] = [_("Pick an active colleague.")]
        return None
    return user


def _opportunity_of_account(value, account_id: int, errors: dict, field: str = "opportunity"):
    if value is None:
        return None
    pk = value.pk if isinstance(value, Opportunity) else value
    found = None
    if str(pk).isdigit():
        found = Opportunity.objects.filter(pk=int(pk), account_id=account_id).first()
    if found is None:
        errors[field] = [_("Pick an opportunity of this account.")]
    return found


def _contact_of_account(value, account_id: int, errors: dict, field: str = "contact"):
    if value is None:
        return None
    pk = value.pk if isinstance(value, Contact) else value
    found = None
    if str(pk).isdigit():
        found = Contact.objects.filter(pk=int(pk), is_archived=False, positions__account_id=account_id).first()
    if found is None:
        errors[field] = [_("Pick a contact of this account.")]
    return found


def _record(actor, action, obj, account_id, changes, extra=None):
    audit.record(actor=actor, action=action, target=obj, account_id=account_id, changes=changes, extra=extra)


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        raise ValidationError({"pipeline": _("No default pipeline is configured.")})
    return pipeline


def _first_stage(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(kind=StageKind.OPEN).order_by("order").first()
    if stage is None:
        raise ValidationError({"pipeline": _("This pipeline has no open stage.")})
    return stage


# --- opportunities ----------------------------------------------------------------------------


def _apply_opportunity_fields(opportunity: Opportunity, fields: dict, errors: dict) -> None:
    data = dict(fields)
    if "amount" in data:
        amount = _money(data.pop("amount"), "amount", errors)
        if amount is not None:
            opportunity.amount = amount
    if "currency" in data:
        opportunity.currency = _currency(data.pop("currency"), errors)
    if "owner" in data:
        owner = _colleague(data.pop("owner"), "owner", errors)
        if owner is not None:
            if not scopes.visible_accounts(owner).filter(pk=opportunity.account_id).exists():
                errors["owner"] = [_("This colleague cannot see the account.")]
            else:
                opportunity.owner = owner
    for name in LIST_FIELDS:
        if name in data:
            setattr(opportunity, name, _text_list(data.pop(name), name, errors))
    _set_texts(opportunity, data, ["name", "next_step", "source", "spin_situation", "spin_problem",
                                   "spin_implication", "spin_need_payoff"])  # fmt: skip
    for name in ("expected_close", "forecast_category"):
        if name in data:
            setattr(opportunity, name, data[name])
    _full_clean(opportunity, errors)
    if "expected_close" in fields and "expected_close" not in errors and opportunity.expected_close:
        earliest = timezone.localdate() - timedelta(days=settings.KAM["OPPORTUNITY_CLOSE_PAST_DAYS"])
        if opportunity.status == OpportunityStatus.OPEN and opportunity.expected_close < earliest:
            errors["expected_close"] = [_("An open opportunity cannot be expected to close before %(day)s.")
                                        % {"day": earliest.isoformat()}]  # fmt: skip


# The opportunities' cells (FunnelCell for the funnel, PipelineCell for the forecast): each write of an
# opportunity takes it out of the cells it was in and puts it into those it is in now, in the same transaction;
# opportunity_cells_recompute rebuilds them all (repair; after a bulk load).
CELL_KEYS = {
    FunnelCell: ("pipeline_id", "owner_id", "month", "reached_order", "stage_id", "is_open"),
    PipelineCell: ("owner_id", "month", "forecast_category", "stage_id"),
}


def opportunity_cells(opportunity: Opportunity) -> dict[tuple, tuple[int, Decimal]]:
    """(model, *key) → (count, amount) of the cells an opportunity counts in; none when it is archived.

    The funnel counts CNY amounts only; the forecast's pipeline every amount, like its figures always did.
    """
    return {} if opportunity.is_archived else _live_cells(opportunity)


def _live_cells(opportunity: Opportunity) -> dict[tuple, tuple[int, Decimal]]:
    """The cells of an opportunity as if it were not archived."""
    month = timezone.localtime(opportunity.created_at).date().replace(day=1)
    is_open = opportunity.status == OpportunityStatus.OPEN
    cny = Decimal(opportunity.amount) if opportunity.currency == "CNY" else Decimal(0)
    cells = {(FunnelCell, opportunity.pipeline_id, opportunity.owner_id, month, opportunity.reached_order,
              opportunity.stage_id, is_open): (1, cny)}  # fmt: skip
    if is_open and opportunity.expected_close is not None:
        close = opportunity.expected_close.replace(day=1)
        key = (PipelineCell, opportunity.owner_id, close, opportunity.forecast_category, opportunity.stage_id)
        cells[key] = (1, Decimal(opportunity.amount))
    return cells


def opportunity_cells_move(before: dict, after: dict) -> None:
    """Move an opportunity from the cells it was in (opportunity_cells before the write) to its new ones."""
    if before == after:
        return
    deltas: dict[tuple, list] = {}
    for cells, sign in ((before, -1), (after, 1)):
        for key, (count, amount) in cells.items():
            delta = deltas.setdefault(key, [0, Decimal(0)])
            delta[0] += sign * count
            delta[1] += sign * amount
    with connection.cursor() as cursor:
        for (model, *key), (count, amount) in deltas.items():
            if count or amount:
                cursor.execute(_cell_upsert(model), [*key, count, amount])


def _cell_upsert(model) -> str:
    table, columns = connection.ops.quote_name(model._meta.db_table), CELL_KEYS[model]
    return (f"INSERT INTO {table} ({', '.join(columns)}, count, amount) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * (len(columns) + 2))}) ON CONFLICT ({', '.join(columns)}) DO UPDATE SET "
            f"count = {table}.count + EXCLUDED.count, amount = {table}.amount + EXCLUDED.amount")  # fmt: skip


def opportunity_cells_recompute() -> int:
    """Rebuild every funnel and pipeline cell from the opportunities (repair; after a bulk load). Returns the
    number of cells."""
    current = Opportunity.objects.filter(is_archived=False).order_by()
    funnel = (
        current.annotate(month=TruncMonth("created_at"), is_open=Q(status=OpportunityStatus.OPEN))
        .values(*CELL_KEYS[FunnelCell]).annotate(n=Count("id"), total=Sum("amount", filter=Q(currency="CNY")))
    )  # fmt: skip
    pipeline = (
        current.filter(status=OpportunityStatus.OPEN, expected_close__isnull=False)
        .annotate(month=TruncMonth("expected_close")).values(*CELL_KEYS[PipelineCell])
        .annotate(n=Count("id"), total=Sum("amount"))
    )  # fmt: skip
    with transaction.atomic():
        made = 0
        for model, rows in ((FunnelCell, funnel), (PipelineCell, pipeline)):
            cells = [model(**{**{k: r[k] for k in CELL_KEYS[model]}, "month": _as_date(r["month"]), "count": r["n"],
                              "amount": r["total"] or 0}) for r in rows.iterator(chunk_size=5000)]  # fmt: skip
            model.objects.all().delete()
            model.objects.bulk_create(cells, batch_size=2000)
            made += len(cells)
    return made


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


@transaction.atomic
def opportunity_create(*, actor, account: Account, fields: dict) -> Opportunity:
    """Open an opportunity at an account the actor may change (PIPE-1). It starts in the first stage of its
    pipeline (the default one unless `pipeline` is given); the owner defaults to the actor."""
    refuse_unknown(fields, OPPORTUNITY_CREATE_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    fields = {"owner": actor, **fields}
    errors: dict = {}
    pipeline = fields.pop("pipeline", None)
    if pipeline is None:
        pipeline = default_pipeline()
    elif not isinstance(pipeline, Pipeline):
        pipeline = Pipeline.objects.filter(pk=pipeline).first() if str(pipeline).isdigit() else None
        if pipeline is None:
            raise ValidationError({"pipeline": _("Pick a pipeline.")})
    stage = _first_stage(pipeline)
    now = timezone.now()
    opportunity = Opportunity(account=account, pipeline=pipeline, stage=stage, created_by=actor, stage_entered_at=now,
                              owner=actor, reached_order=stage.order)  # fmt: skip
    if not fields.get("name"):
        errors["name"] = [_("This field is required.")]
    _apply_opportunity_fields(opportunity, fields, errors)
    if errors:
        raise ValidationError(errors)
    opportunity.save()
    opportunity_cells_move({}, opportunity_cells(opportunity))
    StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, at=now, by=actor)
    _record(actor, AuditAction.CREATE, opportunity, account.pk,
            audit.diff({}, audit.snapshot(opportunity, OPPORTUNITY_AUDITED)))  # fmt: skip
    return opportunity


@transaction.atomic
def opportunity_update(*, actor, opportunity: Opportunity, fields: dict, version=None) -> Opportunity:
    """Change an opportunity's details, SPIN notes and forecast category; a stale `version` is a 409. Its
    stage changes only through opportunity_advance / _stop / _lose."""
    refuse_unknown(fields, OPPORTUNITY_FIELDS)
    opportunity = lock(Opportunity, opportunity.pk, version)
    _require_current(opportunity)
    before = audit.snapshot(opportunity, OPPORTUNITY_AUDITED)
    cells = opportunity_cells(opportunity)
    errors: dict = {}
    _apply_opportunity_fields(opportunity, fields, errors)
    if errors:
        raise ValidationError(errors)
    changes = audit.diff(before, audit.snapshot(opportunity, OPPORTUNITY_AUDITED))
    if changes:
        opportunity.version += 1
        opportunity.save()
        opportunity_cells_move(cells, opportunity_cells(opportunity))
        _record(actor, AuditAction.UPDATE, opportunity, opportunity.account_id, changes)
    return opportunity


def _auto_check_holds(opportunity: Opportunity, check: str) -> bool:
    account_id = opportunity.account_id
    if check == GateAutoCheck.SAMPLE_ACCEPTED:
        return Sample.objects.filter(account_id=account_id, accepted=SampleAcceptance.YES, is_archived=False).exists()
    positions = AccountContact.objects.filter(account_id=account_id, contact__is_archived=False)
    if check == GateAutoCheck.INSIDER:
        return positions.filter(buying_role=BuyingRole.CHAMPION).exists()
    if check == GateAutoCheck.DECISION_MAKER:
        return positions.filter(buying_role=BuyingRole.DECISION_MAKER,
                                attitude__in=[Attitude.CHAMPION, Attitude.SUPPORTIVE]).exists()  # fmt: skip
    return False


def gate_status(opportunity: Opportunity, stage: Stage) -> list[tuple[GateItem, bool]]:
    """The stage's active gate items in checklist order, each with whether it holds for the opportunity."""
    items = list(stage.gate_items.filter(is_active=True).order_by("order", "id"))
    ticked = set(GateCheck.objects.filter(opportunity=opportunity, item__in=items).values_list("item_id", flat=True))
    return [(item, _auto_check_holds(opportunity, item.auto_check) if item.auto_check else item.pk in ticked)
            for item in items]  # fmt: skip


def gate_missing(opportunity: Opportunity, stage: Stage) -> list[str]:
    """The labels of the stage's gate items that do not hold for the opportunity (PIPE-2): the one rule."""
    return [str(item.display_label) for item, holds in gate_status(opportunity, stage) if not holds]


def _move(*, actor, opportunity: Opportunity, to_stage: Stage, note: str, now) -> None:
    StageChange.objects.create(opportunity=opportunity, from_stage=opportunity.stage, to_stage=to_stage, at=now,
                               by=actor, note=note[:500])  # fmt: skip
    if to_stage.kind == StageKind.LOST:
        opportunity.closed_in_stage = opportunity.stage
    else:
        opportunity.reached_order = max(opportunity.reached_order, to_stage.order)
    opportunity.stage = to_stage
    opportunity.stage_entered_at = now


def _stage_of_pipeline(opportunity: Opportunity, stage) -> Stage:
    pk = stage.pk if isinstance(stage, Stage) else stage
    found = Stage.objects.filter(pk=pk, pipeline_id=opportunity.pipeline_id).first() if str(pk).isdigit() else None
    if found is None:
        raise ValidationError({"stage": _("Pick a stage of this opportunity's pipeline.")})
    return found


def _require_current(opportunity: Opportunity) -> None:
    """An archived opportunity is kept as it was: restore it before changing it."""
    if opportunity.is_archived:
        raise ValidationError({"is_archived": _("This opportunity is archived: restore it before changing it.")})


def _require_open(opportunity: Opportunity) -> None:
    _require_current(opportunity)
    if opportunity.status != OpportunityStatus.OPEN:
        raise ValidationError({"status": _("This opportunity is closed (%(status)s).")
                               % {"status": opportunity.get_status_display()}})  # fmt: skip


@transaction.atomic
def opportunity_advance(*, actor, opportunity: Opportunity, to_stage, version=None, note: str = "") -> Opportunity:
    """Move an open opportunity to another stage of its pipeline (PIPE-2).

    Forward, the gate of every stage being left (the current one and any skipped) must hold, checked by
    gate_missing; otherwise GateError names the missing items. Back is allowed without a gate. The won
    stage closes the opportunity as won; losing goes through opportunity_lose. Every move is a StageChange.
    """
    opportunity = lock(Opportunity, opportunity.pk, version)
    _require_open(opportunity)
    cells = opportunity_cells(opportunity)
    to_stage = _stage_of_pipeline(opportunity, to_stage)
    current = opportunity.stage
    if to_stage.pk == current.pk:
        raise ValidationError({"stage": _("The opportunity is already in this stage.")})
    if to_stage.kind == StageKind.LOST:
        raise ValidationError({"stage": _("Record a lost opportunity with its review (lose).")})
    if to_stage.order > current.order:
        left = Stage.objects.filter(pipeline_id=opportunity.pipeline_id, kind=StageKind.OPEN,
                                    order__gte=current.order, order__lt=to_stage.order).order_by("order")  # fmt: skip
        missing = [label for stage in left for label in gate_missing(opportunity, stage)]
        if missing:
            raise GateError(_("The gate does not hold; missing: %(items)s.") % {"items": "; ".join(missing)},
                            missing=missing)  # fmt: skip
    before = audit.snapshot(opportunity, OPPORTUNITY_AUDITED)
    now = timezone.now()
    _move(actor=actor, opportunity=opportunity, to_stage=to_stage, note=note or "", now=now)
    if to_stage.kind == StageKind.WON:
        opportunity.status = OpportunityStatus.WON
        opportunity.closed_at = now
    opportunity.version += 1
    opportunity.save()
    opportunity_cells_move(cells, opportunity_cells(opportunity))
    _record(actor, AuditAction.UPDATE, opportunity, opportunity.account_id,
            audit.diff(before, audit.snapshot(opportunity, OPPORTUNITY_AUDITED)))  # fmt: skip
    return opportunity


def _close(*, actor, opportunity, version, status, reason, what_happened, competitor, lesson) -> Opportunity:
    """Stop or lose an open opportunity with its reason and review (GOV-6)."""
    opportunity = lock(Opportunity, opportunity.pk, version)
    _require_open(opportunity)
    cells = opportunity_cells(opportunity)
    errors: dict = {}
    texts = {"close_reason": reason, "review_what_happened": what_happened, "review_lesson": lesson}
    for name, value in texts.items():
        if not (value or "").strip():
            errors[name] = [_("This field is required.")]
    if errors:
        raise ValidationError(errors)
    before = audit.snapshot(opportunity, OPPORTUNITY_AUDITED)
    _set_texts(opportunity, {**texts, "review_competitor": competitor or ""},
               ["close_reason", "review_what_happened", "review_lesson", "review_competitor"])  # fmt: skip
    _full_clean(opportunity, errors)
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    if status == OpportunityStatus.LOST:
        lost = opportunity.pipeline.stages.filter(kind=StageKind.LOST).order_by("order").first()
        if lost is None:
            raise ValidationError({"stage": _("This pipeline has no lost stage.")})
        _move(actor=actor, opportunity=opportunity, to_stage=lost, note=opportunity.close_reason, now=now)
    if status == OpportunityStatus.STOPPED:
        opportunity.closed_in_stage = opportunity.stage
    opportunity.status = status
    opportunity.closed_at = now
    opportunity.version += 1
    opportunity.save()
    opportunity_cells_move(cells, opportunity_cells(opportunity))
    _record(actor, AuditAction.UPDATE, opportunity, opportunity.account_id,
            audit.diff(before, audit.snapshot(opportunity, OPPORTUNITY_AUDITED)))  # fmt: skip
    return opportunity


@transaction.atomic
def opportunity_stop(*, actor, opportunity: Opportunity, version=None, reason: str = "", what_happened: str = "",
                     competitor: str = "", lesson: str = "") -> Opportunity:  # fmt: skip
    """Stop an opportunity (无则终止) with a reason and review; it stays in the stage where it stopped."""
    return _close(actor=actor, opportunity=opportunity, version=version, status=OpportunityStatus.STOPPED,
                  reason=reason, what_happened=what_happened, competitor=competitor, lesson=lesson)  # fmt: skip


@transaction.atomic
def opportunity_lose(*, actor, opportunity: Opportunity, version=None, reason: str = "", what_happened: str = "",
                     competitor: str = "", lesson: str = "") -> Opportunity:  # fmt: skip
    """Record an opportunity as lost with the lost review (GOV-6); it moves to the pipeline's lost stage (the
    stage it was lost in stays in its history)."""
    return _close(actor=actor, opportunity=opportunity, version=version, status=OpportunityStatus.LOST,
                  reason=reason, what_happened=what_happened, competitor=competitor, lesson=lesson)  # fmt: skip


def _gate_item_of(opportunity: Opportunity, item) -> GateItem:
    pk = item.pk if isinstance(item, GateItem) else item
    found = None
    if str(pk).isdigit():
        found = GateItem.objects.filter(pk=int(pk), stage__pipeline_id=opportunity.pipeline_id, is_active=True).first()
    if found is None:
        raise ValidationError({"item": _("Pick an item of this opportunity's gates.")})
    if found.auto_check:
        raise ValidationError({"item": _("KAM checks this item itself from the account's records.")})
    return found


@transaction.atomic
def gate_check(*, actor, opportunity: Opportunity, item, note: str = "") -> GateCheck:
    """Tick a gate item on an open opportunity (a second tick keeps the first)."""
    _require_open(opportunity)
    item = _gate_item_of(opportunity, item)
    found = GateCheck.objects.filter(opportunity=opportunity, item=item).first()
    if found:
        return found
    check = GateCheck.objects.create(opportunity=opportunity, item=item, checked_by=actor, note=(note or "")[:500])
    _record(actor, AuditAction.CREATE, check, opportunity.account_id, {"item": [None, item.pk]},
            {"opportunity": opportunity.pk})  # fmt: skip
    return check


@transaction.atomic
def gate_uncheck(*, actor, opportunity: Opportunity, item) -> None:
    """Take a tick back (it was given by mistake); the audit trail keeps that it was there."""
    _require_open(opportunity)
    item = _gate_item_of(opportunity, item)
    found = GateCheck.objects.filter(opportunity=opportunity, item=item).first()
    if found is None:
        return
    _record(actor, AuditAction.DELETE, found, opportunity.account_id, {"item": [item.pk, None]},
            {"opportunity": opportunity.pk})  # fmt: skip
    found.delete()


# --- gate items (admin) -------------------------------------------------------------------------


def _require_admin(actor) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied


def _apply_gate_item(item: GateItem, fields: dict, errors: dict) -> None:
    _set_texts(item, fields, ["label"])
    for name in ("order", "is_active", "auto_check"):
        if name in fields:
            setattr(item, name, "" if name == "auto_check" and fields[name] is None else fields[name])
    _full_clean(item, errors)
    if not item.label and not item.code:
        errors.setdefault("label", [_("This field is required.")])


@transaction.atomic
def gate_item_create(*, actor, stage: Stage, fields: dict) -> GateItem:
    """Add an item to an open stage's gate (administrators configure the process, PIPE-2)."""
    _require_admin(actor)
    refuse_unknown(fields, GATE_ITEM_FIELDS)
    if stage.kind != StageKind.OPEN:
        raise ValidationError({"stage": _("Only open stages have a gate.")})
    errors: dict = {}
    item = GateItem(stage=stage)
    if "order" not in fields:
        last = stage.gate_items.order_by("-order").values_list("order", flat=True).first()
        item.order = (last or 0) + 1
    _apply_gate_item(item, fields, errors)
    if errors:
        raise ValidationError(errors)
    item.save()
    _record(actor, AuditAction.CREATE, item, None, audit.diff({}, audit.snapshot(item, ["stage", *GATE_ITEM_FIELDS])))
    return item


@transaction.atomic
def gate_item_update(*, actor, item: GateItem, fields: dict, version=None) -> GateItem:
    """Relabel, reorder, switch off or on, or make automatic a gate item; stale version → 409."""
    _require_admin(actor)
    refuse_unknown(fields, GATE_ITEM_FIELDS)
    item = lock(GateItem, item.pk, version)
    before = audit.snapshot(item, GATE_ITEM_FIELDS)
    errors: dict = {}
    _apply_gate_item(item, fields, errors)
    if errors:
        raise ValidationError(errors)
    changes = audit.diff(before, audit.snapshot(item, GATE_ITEM_FIELDS))
    if changes:
        item.version += 1
        item.save()
        _record(actor, AuditAction.UPDATE, item, None, changes)
    return item


# --- positioning (PIPE-3), samples (PIPE-8), development costs (PIPE-5) ----------------------


@transaction.atomic
def positioning_set(*, actor, account: Account, fields: dict, version=None) -> AccountPositioning:
    """Write the account's positioning (PIPE-3), creating it the first time; a stale version → 409."""
    refuse_unknown(fields, POSITIONING_FIELDS)
    positioning = AccountPositioning.objects.select_for_update().filter(account=account).first()
    if positioning is not None and version is not None and int(version) != positioning.version:
        raise ConflictError(positioning)
    is_new = positioning is None
    positioning = positioning or AccountPositioning(account=account)
    before = {} if is_new else audit.snapshot(positioning, POSITIONING_FIELDS)
    errors: dict = {}
    data = {k: ("" if v is None else v) for k, v in fields.items()}
    _set_texts(positioning, data, POSITIONING_FIELDS)
    _full_clean(positioning, errors)
    if errors:
        raise ValidationError(errors)
    changes = audit.diff(before, audit.snapshot(positioning, POSITIONING_FIELDS))
    if changes or is_new:
        if not is_new:
            positioning.version += 1
        positioning.updated_by = actor
        positioning.save()
        _record(actor, AuditAction.CREATE if is_new else AuditAction.UPDATE, positioning, account.pk, changes)
    return positioning


def _apply_sample(sample: Sample, fields: dict, errors: dict) -> None:
    data = dict(fields)
    if "opportunity" in data:
        sample.opportunity = _opportunity_of_account(data.pop("opportunity"), sample.account_id, errors)
    if "contact" in data:
        sample.contact = _contact_of_account(data.pop("contact"), sample.account_id, errors)
    _set_texts(sample, data, ["product", "unit", "agreed_standard", "result_note"])
    for name in ("quantity", "sent_on", "accepted"):
        if name in data:
            setattr(sample, name, data[name])
    _full_clean(sample, errors)
    if "quantity" not in errors and sample.quantity is not None and Decimal(str(sample.quantity)) <= 0:
        errors["quantity"] = [_("Give a quantity above zero.")]
    if "sent_on" not in errors and sample.sent_on and sample.sent_on > timezone.localdate():
        errors["sent_on"] = [_("A sample is recorded after it was sent: this day is in the future.")]


def _sample_fields(sample: Sample, fields: dict) -> None:
    errors: dict = {}
    _apply_sample(sample, fields, errors)
    if errors:
        raise ValidationError(errors)


def _sample_snapshot(sample: Sample) -> dict:
    return audit.snapshot(sample, SAMPLE_FIELDS)


@transaction.atomic
def sample_create(*, actor, account: Account, fields: dict) -> Sample:
    """Record a sample sent to an account (PIPE-8); `accepted` starts as pending unless given."""
    refuse_unknown(fields, SAMPLE_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    sample = Sample(account=account, created_by=actor)
    _sample_fields(sample, {"sent_on": timezone.localdate(), **fields})
    return record_created(sample, actor=actor, snapshot=_sample_snapshot, account_id=account.pk)


@transaction.atomic
def sample_update(*, actor, sample: Sample, fields: dict, version=None) -> Sample:
    """Change a sample, e.g. record whether it was accepted against the agreed standard; stale version → 409."""
    return edit(Sample, sample, actor=actor, fields=fields, version=version, allowed=SAMPLE_FIELDS,
                apply=_sample_fields, snapshot=_sample_snapshot)  # fmt: skip


def _apply_cost(cost: DevelopmentCost, fields: dict, errors: dict) -> None:
    data = dict(fields)
    if "opportunity" in data:
        cost.opportunity = _opportunity_of_account(data.pop("opportunity"), cost.account_id, errors)
    if "currency" in data:
        cost.currency = _currency(data.pop("currency"), errors)
    for name in ("hours", "rate"):
        if name in data:
            setattr(cost, name, _money(data.pop(name), name, errors, required=False))
    if "amount" in data:
        value = data.pop("amount")
        cost.amount = _money(value, "amount", errors, required=False)
    _set_texts(cost, data, ["note"])
    for name in ("kind", "incurred_on"):
        if name in data:
            setattr(cost, name, data[name])
    if not errors:
        if (cost.hours is None) != (cost.rate is None):
            errors["hours" if cost.hours is None else "rate"] = [_("Give both hours and the rate per hour.")]
        elif cost.hours is not None:
            # Presales time is costed as hours × rate; a given amount would contradict it.
            cost.amount = (cost.hours * cost.rate).quantize(Decimal("0.01"))
            if cost.amount > max_deal_amount():
                errors["amount"] = [_("The amount is larger than %(max)s.") % {"max": max_deal_amount()}]
        elif cost.amount is None:
            errors["amount"] = [_("Give the amount, or hours and the rate per hour.")]
    _full_clean(cost, errors)
    if "incurred_on" not in errors and cost.incurred_on and cost.incurred_on > timezone.localdate():
        errors["incurred_on"] = [_("A cost is recorded once incurred: this day is in the future.")]


def _cost_fields(cost: DevelopmentCost, fields: dict) -> None:
    errors: dict = {}
    _apply_cost(cost, fields, errors)
    if errors:
        raise ValidationError(errors)


def _cost_snapshot(cost: DevelopmentCost) -> dict:
    return audit.snapshot(cost, COST_FIELDS)


@transaction.atomic
def development_cost_create(*, actor, account: Account, fields: dict) -> DevelopmentCost:
    """Record a cost of winning or keeping an account (PIPE-5): an amount, or presales hours × rate."""
    refuse_unknown(fields, COST_FIELDS)
    if account.is_archived:
        raise ValidationError({"account": _("This account is archived.")})
    cost = DevelopmentCost(account=account, created_by=actor)
    _cost_fields(cost, {"incurred_on": timezone.localdate(), **fields})
    return record_created(cost, actor=actor, snapshot=_cost_snapshot, account_id=account.pk)


@transaction.atomic
def development_cost_update(*, actor, cost: DevelopmentCost, fields: dict, version=None) -> DevelopmentCost:
    """Correct a development cost; stale version → 409. Giving an amount clears hours and rate."""
    fields = dict(fields)
    if "amount" in fields and "hours" not in fields and "rate" not in fields:
        fields.update(hours=None, rate=None)
    return edit(DevelopmentCost, cost, actor=actor, fields=fields, version=version, allowed=COST_FIELDS,
                apply=_cost_fields, snapshot=_cost_snapshot)  # fmt: skip


# --- sales records (s2) ----------------------------------------------------------------------
# Sales records (issue 3 item 6) and their monthly aggregates. Every write of lines goes through
# sales_months_add in the same transaction, so SalesMonth always equals the sum of the lines.


@dataclass(frozen=True)
class SalesLineRules:
    """The bounds a sales line is checked against, read from the settings once per write or import."""

    max_amount: Decimal
    earliest: date
    latest: date
    currency: str = "CNY"

    @classmethod
    def current(cls) -> "SalesLineRules":
        return cls(
            max_amount=Decimal(str(settings.KAM["MAX_SALES_LINE_AMOUNT"])),
            earliest=date.fromisoformat(str(settings.KAM["SALES_EARLIEST_DATE"])),
            # One day of grace: an ERP in another time zone may already be on tomorrow's date.
            latest=timezone.localdate() + timedelta(days=1),
        )


ORDER_NUMBER_MAX = 64
PRODUCT_LINE_MAX = 100
PRODUCT_MAX = 200
LINE_NUMBER_MAX = 999_999
CENT = Decimal("0.01")
QUANTITY_UNIT = Decimal("0.0001")


def sales_line_problems(
    rules: SalesLineRules,
    *,
    order_number: str,
    line_number: int,
    date_: date,
    product_line: str,
    product: str,
    quantity: Decimal,
    amount: Decimal,
    gross_margin: Decimal,
    is_return: bool,
    currency: str,
) -> list[tuple[str, str]]:
    """What is wrong with one sales line, as (field, reason); empty if nothing. The API and the
    import both check lines here. A return (退货) has quantity and amount ≤ 0, a sale ≥ 0."""
    problems = []
    if not order_number:
        problems.append(("order_number", _("Enter the order number.")))
    elif len(order_number) > ORDER_NUMBER_MAX:
        problems.append(("order_number", _("At most %(n)d characters.") % {"n": ORDER_NUMBER_MAX}))
    if not 1 <= line_number <= LINE_NUMBER_MAX:
        problems.append(("line_number", _("Enter a line number from 1 to %(n)d.") % {"n": LINE_NUMBER_MAX}))
    if date_ < rules.earliest:
        problems.append(("date", _("The date is before %(date)s.") % {"date": rules.earliest.isoformat()}))
    elif date_ > rules.latest:
        problems.append(("date", _("The date is in the future.")))
    if not product_line:
        problems.append(("product_line", _("Enter the product line.")))
    elif len(product_line) > PRODUCT_LINE_MAX:
        problems.append(("product_line", _("At most %(n)d characters.") % {"n": PRODUCT_LINE_MAX}))
    if len(product) > PRODUCT_MAX:
        problems.append(("product", _("At most %(n)d characters.") % {"n": PRODUCT_MAX}))
    if currency != rules.currency:
        problems.append(("currency", _("Only %(currency)s is accepted.") % {"currency": rules.currency}))
    for name, value, unit in (("quantity", quantity, QUANTITY_UNIT), ("amount", amount, CENT),
                              ("gross_margin", gross_margin, CENT)):  # fmt: skip
        if not value.is_finite():
            problems.append((name, _("Enter a number.")))
        elif abs(value) > rules.max_amount:
            problems.append((name, _("The value is larger than %(max)s.") % {"max": rules.max_amount}))
        elif value.quantize(unit) != value:
            places = -unit.as_tuple().exponent
            problems.append((name, _("Enter a number with at most %(n)d decimal places.") % {"n": places}))
        elif name != "gross_margin" and value < 0 and not is_return:
            problems.append((name, _("Only a return may be negative.")))
        elif name != "gross_margin" and value > 0 and is_return:
            problems.append((name, _("A return is entered as a negative number.")))
    if not problems and not is_return and gross_margin > amount:
        problems.append(("gross_margin", _("The gross margin cannot exceed the amount.")))
    return problems


def _month_of(day: date) -> date:
    return day.replace(day=1)


class MonthlySumsAdd:
    """Adds lines' sums to monthly aggregates keyed by (`key`, month): ONE INSERT … ON CONFLICT DO UPDATE.

    One database call, like kam.core.db.BulkInsert, so an import can run it on its write-behind
    thread; `run()` without a connection runs it on this thread's Django connection.
    """

    def __init__(self, model, key: str, columns: tuple[str, ...], sums: dict[tuple[int, date], list]):
        # sums: (key id, first day of month) → one value per column, in order
        self.connection = connection = connections[router.db_for_write(model)]
        self.vendor = connection.vendor
        self.count = len(sums)
        table = connection.ops.quote_name(model._meta.db_table)
        update = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in columns)
        head = f"INSERT INTO {table} ({key}, month, {', '.join(columns)})"  # noqa: S608
        tail = f"ON CONFLICT ({key}, month) DO UPDATE SET {update}"
        items = [(k, m.isoformat(), *(v if isinstance(v, int) else str(v) for v in s)) for (k, m), s in sums.items()]
        if self.vendor == "postgresql":
            types = ", ".join("%s::int[]" if c == "lines" else "%s::numeric[]" for c in columns)
            self.sql = f"{head} SELECT * FROM unnest(%s::bigint[], %s::date[], {types}) {tail}"  # noqa: S608
            self.params = [list(column) for column in zip(*items, strict=True)] if items else []
        elif self.vendor == "sqlite":
            picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns) + 2))
            # "WHERE true": without it SQLite would read ON CONFLICT as part of the SELECT's join.
            self.sql = f"{head} SELECT {picks} FROM json_each(?) WHERE true {tail}"  # noqa: S608
            self.params = [json.dumps(items)]
        else:  # pragma: no cover - KAM runs on SQLite and PostgreSQL
            raise NotImplementedError(self.vendor)

    def run(self, raw=None) -> None:
        if not self.count:
            return
        if raw is None:
            self.connection.ensure_connection()
            raw = self.connection.connection
        with self.connection.wrap_database_errors:
            if self.vendor == "postgresql":
                with raw.cursor() as cursor:
                    cursor.execute(self.sql, self.params)
            else:
                raw.execute(self.sql, self.params)


def sales_months_add(sums: dict[tuple[int, date], list]) -> MonthlySumsAdd:
    """The account aggregate update for these sums, (account, month) → [amount, gross margin, quantity, lines]
    (run it, or hand it to a WriteBehind)."""
    return MonthlySumsAdd(SalesMonth, "account_id", ("amount", "gross_margin", "quantity", "lines"), sums)


def sales_credits_add(sums: dict[tuple[int, date], list]) -> MonthlySumsAdd:
    """The credited-sales update for these sums, (owner, month) → [amount, gross margin, lines]."""
    return MonthlySumsAdd(SalesCredit, "owner_id", ("amount", "gross_margin", "lines"), sums)


def _decimal_field(fields: dict, name: str) -> Decimal:
    try:
        return Decimal(str(fields.get(name)))
    except InvalidOperation:
        raise ValidationError({name: _("Enter a number.")}) from None


def sales_record_create(*, actor, account: Account, fields: dict) -> SalesRecord:
    """Record one sales line from the API (the caller fetched `account` with write access).

    fields: order_number, line_number (1), date, product_line, product, quantity, amount,
    gross_margin, is_return (False), currency (CNY). The same order line twice is refused (409-like
    DuplicateError), never counted twice.
    """
    values = {
        "order_number": str(fields.get("order_number") or "").strip(),
        "line_number": fields.get("line_number", 1),
        "date_": fields.get("date"),
        "product_line": str(fields.get("product_line") or "").strip(),
        "product": str(fields.get("product") or "").strip(),
        "quantity": _decimal_field(fields, "quantity"),
        "amount": _decimal_field(fields, "amount"),
        "gross_margin": _decimal_field(fields, "gross_margin"),
        "is_return": bool(fields.get("is_return", False)),
        "currency": str(fields.get("currency") or "CNY").strip().upper(),
    }
    if not isinstance(values["date_"], date):
        raise ValidationError({"date": _("Enter a date such as 2024-05-20.")})
    if not isinstance(values["line_number"], int) or isinstance(values["line_number"], bool):
        raise ValidationError({"line_number": _("Enter a whole number.")})
    problems = sales_line_problems(SalesLineRules.current(), **values)
    if problems:
        errors: dict[str, list[str]] = {}
        for name, message in problems:
            errors.setdefault(name, []).append(message)
        raise ValidationError(errors)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = SalesRecord.objects.create(
                    account=account,
                    order_number=values["order_number"],
                    line_number=values["line_number"],
                    date=values["date_"],
                    product_line=values["product_line"],
                    product=values["product"],
                    quantity=values["quantity"],
                    amount=values["amount"],
                    gross_margin=values["gross_margin"],
                    currency=values["currency"],
                    is_return=values["is_return"],
                    source=SalesSource.API,
                    created_by=actor,
                    credited_to_id=account.owner_id,
                )
        except IntegrityError:  # (order number, line number) is unique: the line is already recorded
            raise DuplicateError(
                _("Order %(order)s line %(line)d is already recorded.")
                % {"order": values["order_number"], "line": values["line_number"]},
                duplicates=[],
            ) from None
        key = (account.pk, _month_of(record.date))
        sales_months_add({key: [record.amount, record.gross_margin, record.quantity, 1]}).run()
        if record.credited_to_id:
            sales_credits_add({(record.credited_to_id, key[1]): [record.amount, record.gross_margin, 1]}).run()
        audit.record(actor=actor, action=AuditAction.CREATE, target=record, account_id=account.pk,
                     extra={"amount": str(record.amount), "date": record.date.isoformat()})  # fmt: skip
    return record


def sales_months_recompute() -> int:
    """Rebuild every monthly aggregate from the lines (repair): the accounts' months and the credited
    sales, each one DELETE and one INSERT … SELECT. Returns the number of (account, month) rows."""
    connection = connections[router.db_for_write(SalesMonth)]
    quote = connection.ops.quote_name
    months, credits = quote(SalesMonth._meta.db_table), quote(SalesCredit._meta.db_table)
    lines = quote(SalesRecord._meta.db_table)
    month = "date_trunc('month', date)::date" if connection.vendor == "postgresql" else "date(date, 'start of month')"
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {months}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {months} (account_id, month, amount, gross_margin, quantity, lines) "  # noqa: S608
            f"SELECT account_id, {month}, SUM(amount), SUM(gross_margin), SUM(quantity), COUNT(*) "
            f"FROM {lines} GROUP BY account_id, {month}"
        )
        count = cursor.rowcount
        cursor.execute(f"DELETE FROM {credits}")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {credits} (owner_id, month, amount, gross_margin, lines) "  # noqa: S608
            f"SELECT credited_to_id, {month}, SUM(amount), SUM(gross_margin), COUNT(*) "
            f"FROM {lines} WHERE credited_to_id IS NOT NULL GROUP BY credited_to_id, {month}"
        )
        return count


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]


def statistical_forecasts_recompute(today: date | None = None, *, actor=None) -> dict:
    """Recompute every account's statistical forecast (ANA-2, see kam.sales.forecasting) and its sums per
    manager: the next KAM["FORECAST_MONTHS"] months from the current one, and the one-step back-test of the
    last KAM["FORECAST_BACKTEST_MONTHS"] complete months. Replaces all previous results in one transaction.
    Returns the counts and the seconds it took; an actor (the API's recompute) is audited."""
    started = time.monotonic()
    today = today or timezone.localdate()
    current = today.replace(day=1)
    first_index = forecasting.month_index(current) - settings.KAM["FORECAST_HISTORY_MONTHS"]
    first = forecasting.month_of_index(first_index)
    with transaction.atomic(using=router.db_for_write(OwnerForecastMonth)):
        account_ids, owner_ids, values, present = forecasting.load_sales_matrix(first_month=first, end_month=current)
        result = forecasting.statistical_forecasts(
            values, present, window_start=first_index, horizon=settings.KAM["FORECAST_MONTHS"],
            backtest_months=settings.KAM["FORECAST_BACKTEST_MONTHS"],
        )  # fmt: skip
        counts = forecasting.store(account_ids=account_ids, owner_ids=owner_ids, forecasts=result)
        summary = {"accounts": len(account_ids), **counts, "seconds": round(time.monotonic() - started, 2)}
        if actor is not None:
            audit.record(actor=actor, action=AuditAction.UPDATE, extra=summary,
                         target=("sales.ownerforecastmonth", "", _("statistical forecasts recomputed")))  # fmt: skip
    return summary


@transaction.atomic
def forecast_snapshots_take(*, today: date) -> int:
    """Keep each active KA manager's and head's forecast for this month and the next two as it stands today
    (PIPE-4): weighted, commit, best case, pipeline (selectors.forecast_figures), statistical and quota.
    Idempotent: a (manager, month) already snapshotted today is left alone. Returns the snapshots written."""
    from kam.org.selectors import QUOTA_ROLES, quota_amounts

    current = today.replace(day=1)
    months = [current, selectors._next_month(current)]
    months.append(selectors._next_month(months[-1]))
    people = list(User.objects.filter(is_active=True, role__in=QUOTA_ROLES).values_list("pk", flat=True))
    taken = set(ForecastSnapshot.objects.filter(taken_on=today).values_list("owner_id", "month"))
    live = selectors.pipeline_by_month(owner_ids=people, first_month=months[0], last_month=months[-1])
    quotas = quota_amounts(user_ids=people, first_month=months[0], last_month=months[-1])
    credits = selectors.credited_sales(owner_ids=people, first_month=current, last_month=current)
    statistical = dict(
        ((owner, month), amount) for owner, month, amount in OwnerForecastMonth.objects.filter(
            owner_id__in=people, month__in=months, is_backtest=False).values_list("owner_id", "month", "statistical")
    )  # fmt: skip
    rows = []
    for owner in people:
        for month in months:
            if (owner, month) in taken:
                continue
            actual = credits.get((owner, month), (Decimal(0),))[0]
            figures = selectors.forecast_figures(actual, live.get((owner, month)))
            rows.append(ForecastSnapshot(owner_id=owner, month=month, taken_on=today, quota=quotas.get((owner, month)),
                                         statistical=statistical.get((owner, month), Decimal(0)), **figures))  # fmt: skip
    ForecastSnapshot.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(rows)


# --- funnel, result review, archive (ANA-3) [h3]


def _set_archived(*, actor, opportunity: Opportunity, version, archived: bool) -> Opportunity:
    opportunity, changed = set_archived(Opportunity, opportunity, actor=actor, version=version, archived=archived)
    if changed:  # out of its cells when archived, back in when restored
        live = _live_cells(opportunity)
        before, after = (live, {}) if archived else ({}, live)
        opportunity_cells_move(before, after)
    return opportunity


@transaction.atomic
def opportunity_archive(*, actor, opportunity: Opportunity, version=None) -> Opportunity:
    """Archive an opportunity (nothing is deleted): it leaves the lists, the board, the funnel, the review and
    the forecasts, and stays reachable by its address; a stale `version` is a 409."""
    return _set_archived(actor=actor, opportunity=opportunity, version=version, archived=True)


@transaction.atomic
def opportunity_restore(*, actor, opportunity: Opportunity, version=None) -> Opportunity:
    """Bring an archived opportunity back into the lists and figures; a stale `version` is a 409."""
    return _set_archived(actor=actor, opportunity=opportunity, version=version, archived=False)


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]

WORK_PLAN_ITEM_FIELDS = ("account", "kind", "planned", "note")


def may_edit_work_plan(actor, owner) -> bool:
    """A plan is written by its owner, or by a KA head / administrator for the people in their scope."""
    if not (actor and actor.is_authenticated and actor.is_active):
        return False
    if actor.pk == owner.pk:
        return True
    return actor.role in scopes.SCOPE_EDITORS and scopes.visible_sales_people(actor).filter(pk=owner.pk).exists()


def _work_plan_snapshot(plan: WorkPlan, items) -> dict:
    return {"note": plan.note, "items": [[i.account_id, i.kind, i.planned, i.note] for i in items]}


def _clean_int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _work_plan_items(owner, items, errors: dict) -> list[WorkPlanItem]:
    """The items as unsaved rows; every problem goes into `errors` as items.<n>.<field> (n from 0)."""
    max_items, max_planned = settings.KAM["WORK_PLAN_MAX_ITEMS"], settings.KAM["WORK_PLAN_MAX_PLANNED"]
    if not isinstance(items, (list, tuple)):
        errors["items"] = [_("Give a list of items.")]
        return []
    if len(items) > max_items:
        errors["items"] = [_("Give at most %(n)s items.") % {"n": max_items}]
        return []
    account_ids = [_clean_int(i.get("account")) for i in items if isinstance(i, dict) and i.get("account")]
    visible = set(
        scopes.visible_accounts(owner).filter(pk__in=[a for a in account_ids if a]).values_list("pk", flat=True)
    )
    rows, seen = [], set()
    for n, item in enumerate(items):
        name = f"items.{n}"
        if not isinstance(item, dict):
            errors[name] = [_("Give the item's fields.")]
            continue
        for key in sorted(set(item) - set(WORK_PLAN_ITEM_FIELDS)):
            errors[f"{name}.{key}"] = [_("Unknown field.")]
        account_id = None
        if item.get("account") not in (None, ""):
            account_id = _clean_int(item["account"])
            if account_id not in visible:
                errors[f"{name}.account"] = [_("Pick an account the plan's owner can see.")]
        kind = item.get("kind") or ""
        if kind not in ActivityKind.values:
            errors[f"{name}.kind"] = [_("Choose one of: %(c)s.") % {"c": ", ".join(ActivityKind.values)}]
        planned = _clean_int(item.get("planned"))
        if planned is None or not 1 <= planned <= max_planned:
            errors[f"{name}.planned"] = [_("Give a whole number from 1 to %(max)s.") % {"max": max_planned}]
        note = item.get("note") or ""
        if not isinstance(note, str) or len(note.strip()) > 500:
            errors[f"{name}.note"] = [_("Ensure this value has at most %(n)s characters.") % {"n": 500}]
            note = ""
        if (account_id, kind) in seen:
            errors.setdefault(f"{name}.kind", [_("This kind is planned twice for the same account.")])
        seen.add((account_id, kind))
        rows.append(WorkPlanItem(account_id=account_id, kind=kind, planned=planned or 1, note=note.strip()))
    return rows


@transaction.atomic
def work_plan_set(*, actor, owner, month: date, items, note: str | None = None, version=None) -> WorkPlan:
    """Write a person's plan for a month (PIPE-4): create it, or replace its items, all or nothing.

    Each item plans `planned` activities of a kind (an ActivityKind), at an account the owner can see or at
    any account; errors name the item and field (items.<n>.<field>, n from 0). An existing plan needs the
    `version` read (a stale one is a 409). The owner writes their own plan; a KA head / administrator those
    of the people in their scope (others: 403)."""
    if not may_edit_work_plan(actor, owner):
        raise PermissionDenied(_("You may not change this person's work plan."))
    month = month.replace(day=1)
    errors: dict = {}
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
        errors["note"] = [_("Ensure this value has at most %(n)s characters.") % {"n": 4000}]
    rows = _work_plan_items(owner, items, errors)
    plan = WorkPlan.objects.select_for_update().filter(owner=owner, month=month).first()
    if plan is not None and (version is None or str(version).strip() == ""):
        errors["version"] = [_("Give the version you read.")]
    if errors:
        raise ValidationError(errors)
    if plan is None:
        plan = WorkPlan(owner=owner, month=month, note=(note or "").strip())
        try:
            with transaction.atomic():
                plan.save()
        except IntegrityError:  # written meanwhile by someone else
            raise ConflictError(WorkPlan.objects.get(owner=owner, month=month)) from None
        before = None
    else:
        plan = lock(WorkPlan, plan.pk, version)
        before = _work_plan_snapshot(plan, plan.items.order_by("id"))
        if note is not None:
            plan.note = note.strip()
    after = _work_plan_snapshot(plan, rows)
    if before is None or after != before:
        plan.items.all().delete()
        for row in rows:
            row.plan = plan
        WorkPlanItem.objects.bulk_create(rows)
        if before is not None:
            plan.version += 1
            plan.save()
        action = AuditAction.CREATE if before is None else AuditAction.UPDATE
        _record(actor, action, plan, None, audit.diff(before or {}, after))
    return plan


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]


@transaction.atomic
def sample_archive(*, actor, sample: Sample, version=None, reason: str = "") -> Sample:
    """Archive a sample (PIPE-8); an archived accepted sample no longer satisfies the gate."""
    return set_archived(Sample, sample, actor=actor, version=version, reason=reason or "")[0]


@transaction.atomic
def development_cost_archive(*, actor, cost: DevelopmentCost, version=None, reason: str = "") -> DevelopmentCost:
    """Archive a development cost (PIPE-5); it no longer counts in the account's cost and return."""
    return set_archived(DevelopmentCost, cost, actor=actor, version=version, reason=reason or "")[0]
