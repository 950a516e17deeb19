"""The sales API (/api/v1): thin — parse, call a service or selector, answer."""

from contextlib import contextmanager
from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from kam.accounts.imports import ImportFileError
from kam.core import scopes
from kam.core.api import CURRENT_SCHEMAS
from kam.sales import imports as sales_imports
from kam.sales import schemas as s
from kam.sales import selectors, services
from kam.sales.models import AccountPositioning, DevelopmentCost, GateItem, Opportunity, Sample, Stage, WorkPlan

router = Router(tags=["sales"])


# --- pipeline (s1): pipelines, opportunities, gates, samples, development costs, positioning -----

CURRENT_SCHEMAS.update({Opportunity: s.OpportunityOut, GateItem: s.GateItemOut, Sample: s.SampleOut,
                        DevelopmentCost: s.CostOut, AccountPositioning: s.PositioningOut})  # fmt: skip

# The API's ids (owner_id …) under the services' field names (owner …), and back for errors.
PIPELINE_NAMES = {"owner_id": "owner", "pipeline_id": "pipeline", "opportunity_id": "opportunity",
                  "contact_id": "contact"}  # fmt: skip


def _renamed(data: dict) -> dict:
    return {PIPELINE_NAMES.get(k, k): v for k, v in data.items()}


@contextmanager
def _named():
    """Errors name the API's fields (owner_id, not owner)."""
    try:
        yield
    except services.GateError:
        raise
    except ValidationError as e:
        if not hasattr(e, "error_dict"):
            raise
        back = {v: k for k, v in PIPELINE_NAMES.items()}
        raise ValidationError({back.get(k, k): v for k, v in e.message_dict.items()}) from e


def _opportunity_detail(opportunity):
    """The opportunity with its current stage's gate, item by item, for OpportunityDetailOut."""
    opportunity.gate = [{"item_id": item.pk, "label": str(item.display_label), "auto_check": item.auto_check,
                         "holds": holds} for item, holds in services.gate_status(opportunity, opportunity.stage)]  # fmt: skip
    return opportunity


@router.get("/pipelines", response=list[s.PipelineOut], operation_id="list_pipelines")
def list_pipelines(request):
    """The pipelines with their stages (win probability, kind) and each stage's gate items (PIPE-1, PIPE-2)."""
    return selectors.pipeline_list()


def _stage_of(pipeline_id: int, stage_id: int) -> Stage:
    stage = Stage.objects.filter(pk=stage_id, pipeline_id=pipeline_id).first()
    if stage is None:
        raise Http404
    return stage


@router.post("/pipelines/{pipeline_id}/stages/{stage_id}/gate-items", response={201: s.GateItemOut},
             operation_id="create_gate_item")  # fmt: skip
def create_gate_item(request, pipeline_id: int, stage_id: int, payload: s.GateItemIn):
    """Add an item to a stage's gate (administrators only)."""
    data = {k: v for k, v in payload.dict().items() if v is not None}
    item = services.gate_item_create(actor=request.auth, stage=_stage_of(pipeline_id, stage_id), fields=data)
    return Status(201, item)


@router.patch("/pipelines/{pipeline_id}/stages/{stage_id}/gate-items/{item_id}", response=s.GateItemOut,
              operation_id="update_gate_item")  # fmt: skip
def update_gate_item(request, pipeline_id: int, stage_id: int, item_id: int, payload: s.GateItemPatch):
    """Relabel, reorder, switch off or make automatic a gate item (administrators only); stale version → 409."""
    item = GateItem.objects.filter(pk=item_id, stage=_stage_of(pipeline_id, stage_id)).first()
    if item is None:
        raise Http404
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.gate_item_update(actor=request.auth, item=item, fields=data, version=version)


@router.get("/opportunities", response=list[s.OpportunityOut], operation_id="list_opportunities")
@paginate(PageNumberPagination)
def list_opportunities(request, filters: Query[s.OpportunityFilters]):
    """Opportunities at accounts in your data scope, by expected close. Filter by owner ("me" or an id),
    stage, status, account, pipeline, expected close range, stuck, or text in the name (`q`)."""
    return selectors.opportunity_list(request.auth, **filters.dict())


@router.post("/opportunities", response={201: s.OpportunityDetailOut}, operation_id="create_opportunity")
def create_opportunity(request, payload: s.OpportunityIn):
    """Open an opportunity at an account you may change; it starts in its pipeline's first stage."""
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    for name in ("owner_id", "pipeline_id"):
        if data.get(name) is None:
            data.pop(name)
    with _named():
        opportunity = services.opportunity_create(actor=request.auth, account=account, fields=_renamed(data))
    return Status(201, _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity.pk)))


@router.get("/opportunities/{int:opportunity_id}", response=s.OpportunityDetailOut, operation_id="get_opportunity")
def get_opportunity(request, opportunity_id: int):
    """One opportunity, with its current stage's gate: each item and whether it holds."""
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.patch("/opportunities/{int:opportunity_id}", response=s.OpportunityDetailOut, operation_id="update_opportunity")
def update_opportunity(request, opportunity_id: int, payload: s.OpportunityPatch):
    """Change details, SPIN notes or the forecast category; send the `version` you read (stale → 409)."""
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named():
        services.opportunity_update(actor=request.auth, opportunity=opportunity, fields=_renamed(data),
                                    version=version)  # fmt: skip
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.post("/opportunities/{opportunity_id}/advance", response={200: s.OpportunityDetailOut, 422: s.GateRefusalOut},
             operation_id="advance_opportunity")  # fmt: skip
def advance_opportunity(request, opportunity_id: int, payload: s.AdvanceIn):
    """Move to another stage of the pipeline. Forward, the gate of every stage left must hold; if not, 422
    with `missing`: the items that do not hold. Back needs no gate; the won stage closes it as won."""
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    try:
        services.opportunity_advance(actor=request.auth, opportunity=opportunity, to_stage=payload.stage_id,
                                     version=payload.version, note=payload.note)  # fmt: skip
    except services.GateError as e:
        message = " ".join(e.message_dict["stage"])
        return Status(422, {"detail": message, "errors": [{"field": "stage_id", "message": message}],
                            "missing": e.missing})  # fmt: skip
    except ValidationError as e:
        raise ValidationError({"stage_id" if k == "stage" else k: v for k, v in e.message_dict.items()}) from e
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.post("/opportunities/{opportunity_id}/gate-checks", response=s.OpportunityDetailOut,
             operation_id="check_gate_item")  # fmt: skip
def check_gate_item(request, opportunity_id: int, payload: s.GateCheckIn):
    """Tick a gate item of the opportunity (or take the tick back with `checked: false`)."""
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    try:
        if payload.checked:
            services.gate_check(actor=request.auth, opportunity=opportunity, item=payload.item_id, note=payload.note)
        else:
            services.gate_uncheck(actor=request.auth, opportunity=opportunity, item=payload.item_id)
    except ValidationError as e:
        raise ValidationError({"item_id" if k == "item" else k: v for k, v in e.message_dict.items()}) from e
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


def _close(request, opportunity_id: int, payload: s.CloseIn, close):
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    names = {"close_reason": "reason", "review_what_happened": "what_happened", "review_lesson": "lesson",
             "review_competitor": "competitor"}  # fmt: skip
    try:
        close(actor=request.auth, opportunity=opportunity, version=payload.version, reason=payload.reason,
              what_happened=payload.what_happened, competitor=payload.competitor, lesson=payload.lesson)  # fmt: skip
    except ValidationError as e:
        raise ValidationError({names.get(k, k): v for k, v in e.message_dict.items()}) from e
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.post("/opportunities/{opportunity_id}/stop", response=s.OpportunityDetailOut, operation_id="stop_opportunity")
def stop_opportunity(request, opportunity_id: int, payload: s.CloseIn):
    """Stop the opportunity (无则终止) with a reason and the review (what happened, competitor, lesson)."""
    return _close(request, opportunity_id, payload, services.opportunity_stop)


@router.post("/opportunities/{opportunity_id}/lose", response=s.OpportunityDetailOut, operation_id="lose_opportunity")
def lose_opportunity(request, opportunity_id: int, payload: s.CloseIn):
    """Record the opportunity as lost with the lost review (GOV-6); it moves to the lost stage."""
    return _close(request, opportunity_id, payload, services.opportunity_lose)


@router.get("/opportunities/{opportunity_id}/history", response=list[s.StageChangeOut],
            operation_id="list_opportunity_history")  # fmt: skip
def list_opportunity_history(request, opportunity_id: int):
    """Every stage move of the opportunity, oldest first (stage ageing and velocity)."""
    return selectors.opportunity_history(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.get("/samples", response=list[s.SampleOut], operation_id="list_samples")
@paginate(PageNumberPagination)
def list_samples(request, filters: Query[s.SampleFilters]):
    """Samples sent to accounts in your data scope (PIPE-8), newest first."""
    return selectors.sample_list(request.auth, **filters.dict())


@router.post("/samples", response={201: s.SampleOut}, operation_id="create_sample")
def create_sample(request, payload: s.SampleIn):
    """Record a sample sent to an account you may change: what, how much, when, to whom, the agreed standard."""
    data = payload.dict()
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    if data.get("sent_on") is None:
        data.pop("sent_on")
    with _named():
        sample = services.sample_create(actor=request.auth, account=account, fields=_renamed(data))
    return Status(201, sample)


@router.get("/samples/{sample_id}", response=s.SampleOut, operation_id="get_sample")
def get_sample(request, sample_id: int):
    return scopes.get_sample_for_user(request.auth, sample_id)


@router.patch("/samples/{sample_id}", response=s.SampleOut, operation_id="update_sample")
def update_sample(request, sample_id: int, payload: s.SamplePatch):
    """Change a sample, e.g. `accepted` (yes / no) and the result; stale version → 409."""
    sample = scopes.get_sample_for_user(request.auth, sample_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named():
        return services.sample_update(actor=request.auth, sample=sample, fields=_renamed(data), version=version)


@router.get("/development-costs", response=list[s.CostOut], operation_id="list_development_costs")
@paginate(PageNumberPagination)
def list_development_costs(request, filters: Query[s.CostFilters]):
    """Development costs of accounts in your data scope (PIPE-5), newest first."""
    return selectors.development_cost_list(request.auth, **filters.dict())


@router.post("/development-costs", response={201: s.CostOut}, operation_id="create_development_cost")
def create_development_cost(request, payload: s.CostIn):
    """Record a cost of winning or keeping an account you may change: an amount, or presales hours × rate."""
    data = {k: v for k, v in payload.dict().items() if v is not None}
    account = scopes.get_account_for_user(request.auth, data.pop("account_id"), write=True)
    with _named():
        cost = services.development_cost_create(actor=request.auth, account=account, fields=_renamed(data))
    return Status(201, cost)


@router.get("/development-costs/{cost_id}", response=s.CostOut, operation_id="get_development_cost")
def get_development_cost(request, cost_id: int):
    return scopes.get_development_cost_for_user(request.auth, cost_id)


@router.patch("/development-costs/{cost_id}", response=s.CostOut, operation_id="update_development_cost")
def update_development_cost(request, cost_id: int, payload: s.CostPatch):
    """Correct a development cost; stale version → 409."""
    cost = scopes.get_development_cost_for_user(request.auth, cost_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    with _named():
        return services.development_cost_update(actor=request.auth, cost=cost, fields=_renamed(data), version=version)


def _positioning_out(account) -> dict:
    positioning = AccountPositioning.objects.filter(account=account).first()
    if positioning is None:
        return {"account_id": account.pk}
    return s.PositioningOut.from_orm(positioning).model_dump()


@router.get("/accounts/{account_id}/positioning", response=s.PositioningOut, operation_id="get_account_positioning")
def get_account_positioning(request, account_id: int):
    """The account's positioning (PIPE-3); empty fields and no version if none was written yet."""
    return _positioning_out(scopes.get_account_for_user(request.auth, account_id))


@router.put("/accounts/{account_id}/positioning", response=s.PositioningOut, operation_id="set_account_positioning")
def set_account_positioning(request, account_id: int, payload: s.PositioningIn):
    """Write the account's positioning: stable or high-growth type, risk assessment, background check, needs
    survey, difficulty. Send the version you read (none the first time); stale → 409."""
    account = scopes.get_account_for_user(request.auth, account_id, write=True)
    data = payload.dict()
    version = data.pop("version")
    services.positioning_set(actor=request.auth, account=account, fields=data, version=version)
    return _positioning_out(account)


# --- sales records (s2) ----------------------------------------------------------------------


class SalesRecordFilters(Schema):
    account: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    product_line: str | None = None
    order_number: str | None = None


@router.get("/sales-records", response=list[s.SalesRecordOut], operation_id="list_sales_records")
@paginate(PageNumberPagination)
def list_sales_records(request, filters: Query[SalesRecordFilters]):
    """Sales lines (成交) of the accounts in your data scope, newest first; filter by account, date range
    (date_from, date_to inclusive), product line or order number."""
    return selectors.sales_record_list(request.auth, filters=filters.dict())


@router.post("/sales-records", response={201: s.SalesRecordOut}, operation_id="create_sales_record")
def create_sales_record(request, payload: s.SalesRecordIn):
    """Record one sales line at an account you may change. Amounts are decimal CNY; quantity and amount
    are negative only for a return (is_return). The same (order_number, line_number) twice is 409."""
    account = scopes.get_account_for_user(request.auth, payload.account_id, write=True)
    fields = payload.dict(exclude={"account_id"})
    record = services.sales_record_create(actor=request.auth, account=account, fields=fields)
    return Status(201, record)


@router.post(
    "/sales-records/import", response={201: s.SalesImportReportOut, 422: s.SalesImportReportOut},
    operation_id="import_sales_records",
)  # fmt: skip
def import_sales_records(request, file: File[UploadedFile]):
    """Import sales lines from an ERP export (csv or xlsx), all or nothing: 201 with the counts, or 422
    with each failed row, field and reason and nothing saved. Order lines already recorded are skipped
    and counted (idempotent). A file that cannot be read or has wrong columns gets 4xx with `detail`."""
    if not request.auth.can_edit_accounts:
        raise PermissionDenied(_("Your role cannot import sales records."))
    try:
        report = sales_imports.sales_import(actor=request.auth, file=file, filename=file.name or "")
    except ImportFileError as e:
        from kam.core.api import api

        body = {"detail": e.message_text, "errors": [{"field": "file", "message": e.message_text}]}
        return api.create_response(request, body, status=e.status)
    return Status(201 if report.ok else 422, report.as_dict())


@router.get("/sales-records/{record_id}", response=s.SalesRecordOut, operation_id="get_sales_record")
def get_sales_record(request, record_id: int):
    return scopes.get_sales_record_for_user(request.auth, record_id)


@router.get(
    "/accounts/{account_id}/sales-history", response=s.SalesHistoryOut, operation_id="get_account_sales_history"
)
def get_account_sales_history(request, account_id: int, since: date | None = None, until: date | None = None):
    """An account's sales by month (amount, gross margin, quantity, lines; CNY), oldest month first, from
    the monthly aggregates (never the raw lines). `since` / `until` limit the months."""
    account, months = selectors.account_sales_history(request.auth, account_id, since=since, until=until)
    return {"account": account, "currency": "CNY", "months": months}


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]


def forecast_level_out(level) -> dict:
    chosen = level.user or level.department
    return {"kind": level.kind, "id": chosen.pk if chosen is not None else None, "name": str(level.label)}


@router.get("/forecasts", response=s.ForecastOut, operation_id="get_forecast")
def get_forecast(request, filters: Query[s.ForecastFilters]):
    """The monthly forecast of one manager (`user`), a team (`department`) or everyone in your scope, for
    months `from` … `to` (YYYY-MM; default this year): quota, actual, weighted, commit, best case, pipeline
    and statistical per month, each manager's current month, and the accuracy of past forecasts."""
    overview = selectors.forecast_overview(request.auth, user=filters.user, department=filters.department,
                                           first=filters.first, last=filters.last)  # fmt: skip
    return {**overview, "level": forecast_level_out(overview["level"])}


@router.get("/forecasts/snapshots", response=list[s.ForecastSnapshotOut], operation_id="list_forecast_snapshots")
@paginate(PageNumberPagination)
def list_forecast_snapshots(request, filters: Query[s.SnapshotFilters]):
    """Forecasts as they stood when snapshotted (the 1st of each month), of the managers in your scope."""
    return selectors.forecast_snapshot_list(request.auth, user=filters.user, first=filters.first, last=filters.last,
                                            taken_on=filters.taken_on)  # fmt: skip


@router.post("/forecasts/recompute", response=s.ForecastRecomputeOut, operation_id="recompute_forecasts")
def recompute_forecasts(request):
    """Recompute every statistical forecast now (administrators only; it also runs each night)."""
    if not request.auth.is_admin:
        raise PermissionDenied(_("Only administrators may recompute the forecasts."))
    return services.statistical_forecasts_recompute(actor=request.auth)


# --- funnel, result review, archive (ANA-3) [h3]


@router.get("/opportunities/funnel", response=s.FunnelOut, operation_id="get_opportunity_funnel")
def get_opportunity_funnel(request, filters: Query[s.FunnelFilters]):
    """The funnel of a pipeline (the default one) for the opportunities owned by the people in your data scope
    (PIPE-1): for each stage, the opportunities created in the period (`from`, `to`, counted in whole months;
    default the last 12 months) that reached it, their amount and the conversion to the next stage; the win
    rate; and today's open pipeline by stage (count, amount, weighted by the stage's probability). Filter by
    `owner` ("me" or an id) and `team` (a department and below)."""
    return selectors.opportunity_funnel(request.auth, **filters.dict())


@router.get("/opportunities/review", response=s.ReviewOut, operation_id="get_opportunity_review")
def get_opportunity_review(request, filters: Query[s.ReviewFilters]):
    """The result review (ANA-3) of the opportunities closed in the period (`from`, `to`; default the last 12
    months) in your data scope: totals and win rate won / (won + lost); lost and stopped ones by reason, by
    competitor and by the stage they closed in; each manager's figures; the latest lost reviews."""
    return selectors.result_review(request.auth, **filters.dict())


@router.post("/opportunities/{opportunity_id}/archive", response=s.OpportunityDetailOut,
             operation_id="archive_opportunity")  # fmt: skip
def archive_opportunity(request, opportunity_id: int, payload: s.ArchiveIn):
    """Archive the opportunity (nothing is deleted): it leaves lists, board, funnel and forecasts and stays
    reachable by its id. Send the `version` you read (stale → 409)."""
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    services.opportunity_archive(actor=request.auth, opportunity=opportunity, version=payload.version)
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


@router.post("/opportunities/{opportunity_id}/restore", response=s.OpportunityDetailOut,
             operation_id="restore_opportunity")  # fmt: skip
def restore_opportunity(request, opportunity_id: int, payload: s.ArchiveIn):
    """Bring an archived opportunity back; stale version → 409."""
    opportunity = scopes.get_opportunity_for_user(request.auth, opportunity_id, write=True)
    services.opportunity_restore(actor=request.auth, opportunity=opportunity, version=payload.version)
    return _opportunity_detail(scopes.get_opportunity_for_user(request.auth, opportunity_id))


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]


CURRENT_SCHEMAS[WorkPlan] = s.WorkPlanCurrentOut


def _work_plan_out(progress) -> dict:
    plan = progress.plan
    items = [{"id": r.item.pk, "account": r.item.account, "kind": r.item.kind, "planned": r.planned, "done": r.done,
              "rate": r.rate, "note": r.item.note} for r in progress.rows]  # fmt: skip
    return {"id": plan.pk, "owner": plan.owner, "month": plan.month, "note": plan.note, "version": plan.version,
            "planned": progress.planned, "done": progress.done, "rate": progress.rate,
            "unplanned": progress.unplanned, "items": items}  # fmt: skip


class _PlansWithProgress:
    """A page of plans, each with what was done of it, computed for the page only (one pass per month)."""

    def __init__(self, plans):
        self.plans = plans

    def __len__(self):
        return self.plans.count()

    def __getitem__(self, page):
        plans = list(self.plans[page])
        by_month: dict = {}
        for plan in plans:
            by_month.setdefault(plan.month, []).append(plan.owner_id)
        progress = {(owner, month): p for month, owners in by_month.items()
                    for owner, p in selectors.work_plan_progress(owner_ids=owners, month=month).items()}  # fmt: skip
        return [_work_plan_out(progress[(plan.owner_id, plan.month)]) for plan in plans]


@router.get("/work-plans", response=list[s.WorkPlanOut], operation_id="list_work_plans")
@paginate(PageNumberPagination)
def list_work_plans(request, filters: Query[s.WorkPlanFilters]):
    """Monthly work plans (PIPE-4) of the people whose figures you may see, each with done / planned per item.
    Filter by `owner` (a user id) and `month` (YYYY-MM)."""
    month = selectors.parse_month(filters.month) if filters.month else None
    return _PlansWithProgress(selectors.work_plan_list(request.auth, owner=filters.owner, month=month))


def _work_plan_detail(plan) -> dict:
    return _work_plan_out(selectors.work_plan_progress(owner_ids=[plan.owner_id], month=plan.month)[plan.owner_id])


@router.get("/work-plans/{plan_id}", response=s.WorkPlanOut, operation_id="get_work_plan")
def get_work_plan(request, plan_id: int):
    """One work plan with done / planned per item, the totals and the month's unplanned activities by kind."""
    return _work_plan_detail(selectors.get_work_plan_for_user(request.auth, plan_id))


@router.put("/work-plans/{owner_id}/{month}", response=s.WorkPlanOut, operation_id="set_work_plan")
def set_work_plan(request, owner_id: int, month: str, payload: s.WorkPlanIn):
    """Create a person's plan for a month (YYYY-MM) or replace its items, all or nothing; errors name the item
    and field (`items.2.planned`). Send the `version` you read when the plan exists (stale → 409). Your own
    plan, or as a KA head / administrator the plans of the people in your scope (others: 403)."""
    owner = selectors.get_sales_person_for_user(request.auth, owner_id)
    first_day = selectors.parse_month(month)
    items = [{"account" if k == "account_id" else k: v for k, v in item.items()} for item in payload.dict()["items"]]
    try:
        plan = services.work_plan_set(actor=request.auth, owner=owner, month=first_day, items=items,
                                      note=payload.note, version=payload.version)  # fmt: skip
    except ValidationError as e:
        if not hasattr(e, "error_dict"):
            raise
        raise ValidationError({k[:-len(".account")] + ".account_id" if k.endswith(".account") else k: v
                               for k, v in e.message_dict.items()}) from e  # fmt: skip
    return _work_plan_detail(plan)


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]


@router.post("/samples/{sample_id}/archive", response=s.SampleOut, operation_id="archive_sample")
def archive_sample(request, sample_id: int, payload: s.RecordArchiveIn):
    """Archive a sample recorded by mistake (PIPE-8): it leaves the lists and the gate's check; stale → 409."""
    sample = scopes.get_sample_for_user(request.auth, sample_id, write=True)
    return services.sample_archive(actor=request.auth, sample=sample, version=payload.version, reason=payload.reason)


@router.post("/development-costs/{cost_id}/archive", response=s.CostOut, operation_id="archive_development_cost")
def archive_development_cost(request, cost_id: int, payload: s.RecordArchiveIn):
    """Archive a development cost recorded by mistake (PIPE-5): it no longer counts; stale → 409."""
    cost = scopes.get_development_cost_for_user(request.auth, cost_id, write=True)
    return services.development_cost_archive(actor=request.auth, cost=cost, version=payload.version,
                                             reason=payload.reason)  # fmt: skip


@router.get("/accounts/{account_id}/development-return", response=s.DevelopmentReturnOut,
            operation_id="get_account_development_return")  # fmt: skip
def get_account_development_return(request, account_id: int):
    """The account's cost of acquisition and return by year (PIPE-5), oldest first: development cost (total
    and by kind), sales amount and gross margin (monthly aggregates), net return = gross margin − cost, and
    the cumulative return. CNY; archived costs are left out."""
    account, years = selectors.account_development_return(request.auth, account_id)
    return {"account": account, "currency": "CNY", "years": years}
