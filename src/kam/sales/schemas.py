"""Input and output schemas of the sales API."""

from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from ninja import Field, Schema

from kam.accounts.schemas import AccountRef, UserRef

# --- pipeline (s1): pipelines, opportunities, gates, samples, costs, positioning
# Kinds and statuses are plain strings checked by the services (one rule for API and pages; an unknown
# value is a 422 naming the field). Money is a decimal string in answers.


class GateItemOut(Schema):
    id: int
    code: str
    label: str
    order: int
    is_active: bool
    auto_check: str
    version: int

    @staticmethod
    def resolve_label(obj) -> str:
        return str(obj.display_label)


class StageOut(Schema):
    id: int
    code: str
    name: str
    order: int
    probability: Decimal
    kind: str
    stuck_after_days: int | None
    gate_items: list[GateItemOut]

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj.display_name)

    @staticmethod
    def resolve_gate_items(obj) -> list:
        return list(obj.gate_items.all())


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]

    @staticmethod
    def resolve_stages(obj) -> list:
        return list(obj.stages.all())


class GateItemIn(Schema):
    label: str = Field(..., max_length=200)
    order: int | None = Field(None, ge=0, le=32767)
    is_active: bool = True
    auto_check: str = Field("", description="empty (ticked by a user), sample_accepted, insider or decision_maker")


class GateItemPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    label: str | None = Field(None, max_length=200)
    order: int | None = Field(None, ge=0, le=32767)
    is_active: bool | None = None
    auto_check: str | None = None


class StageRef(Schema):
    id: int
    name: str
    kind: str
    probability: Decimal

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj.display_name)


class OpportunityIn(Schema):
    account_id: int = Field(..., description="The account (one you may change)")
    pipeline_id: int | None = Field(None, description="Default: the default pipeline; starts in its first stage")
    name: str = Field(..., max_length=200)
    amount: Decimal = Field(Decimal(0), description="Not negative, at most KAM_MAX_DEAL_AMOUNT")
    currency: str = Field("CNY", max_length=3)
    expected_close: date | None = None
    owner_id: int | None = Field(None, description="Default: you")
    product_lines: list[str] = Field(default_factory=list)
    competitors: list[str] = Field(default_factory=list)
    next_step: str = Field("", max_length=200)
    source: str = Field("", max_length=100)
    forecast_category: str = Field("pipeline", description="pipeline, best_case, commit or omitted")
    spin_situation: str = Field("", max_length=4000)
    spin_problem: str = Field("", max_length=4000)
    spin_implication: str = Field("", max_length=4000)
    spin_need_payoff: str = Field("", max_length=4000)


class OpportunityPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=200)
    amount: Decimal | None = None
    currency: str | None = Field(None, max_length=3)
    expected_close: date | None = None
    owner_id: int | None = None
    product_lines: list[str] | None = None
    competitors: list[str] | None = None
    next_step: str | None = Field(None, max_length=200)
    source: str | None = Field(None, max_length=100)
    forecast_category: str | None = None
    spin_situation: str | None = Field(None, max_length=4000)
    spin_problem: str | None = Field(None, max_length=4000)
    spin_implication: str | None = Field(None, max_length=4000)
    spin_need_payoff: str | None = Field(None, max_length=4000)


class OpportunityFilters(Schema):
    owner: str | None = Field(None, description='"me" or a user id')
    stage: int | None = None
    status: str | None = Field(None, description="open, won, lost or stopped")
    account: int | None = None
    pipeline: int | None = None
    close_from: date | None = Field(None, description="Expected close on or after this day")
    close_to: date | None = Field(None, description="Expected close on or before this day")
    stuck: bool | None = Field(None, description="Only (or no) open opportunities too long in their stage")
    q: str = Field("", max_length=100)


class GateEntryOut(Schema):
    item_id: int
    label: str
    auto_check: str
    holds: bool


class OpportunityOut(Schema):
    id: int
    account: AccountRef
    pipeline_id: int
    stage: StageRef
    name: str
    amount: Decimal
    currency: str
    expected_close: date | None
    owner: UserRef
    product_lines: list[str]
    competitors: list[str]
    next_step: str
    source: str
    status: str
    closed_at: datetime | None
    close_reason: str
    review_what_happened: str
    review_competitor: str
    review_lesson: str
    forecast_category: str
    spin_situation: str
    spin_problem: str
    spin_implication: str
    spin_need_payoff: str
    stage_entered_at: datetime
    days_in_stage: int
    is_stuck: bool
    is_archived: bool
    created_at: datetime
    version: int

    @staticmethod
    def resolve_days_in_stage(obj) -> int:
        return (timezone.now() - obj.stage_entered_at).days

    @staticmethod
    def resolve_is_stuck(obj) -> bool:
        from kam.sales.services import is_stuck

        return is_stuck(obj)


class OpportunityDetailOut(OpportunityOut):
    gate: list[GateEntryOut] = Field(default_factory=list, description="The current stage's gate")


class AdvanceIn(Schema):
    stage_id: int
    version: int = Field(..., description="The version you read; a stale one gets 409")
    note: str = Field("", max_length=500)


class GateRefusalOut(Schema):
    detail: str
    errors: list[dict]
    missing: list[str]


class GateCheckIn(Schema):
    item_id: int
    checked: bool = Field(True, description="false takes the tick back")
    note: str = Field("", max_length=500)


class CloseIn(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    reason: str = Field(..., max_length=2000)
    what_happened: str = Field(..., max_length=4000)
    competitor: str = Field("", max_length=200)
    lesson: str = Field(..., max_length=4000)


class StageChangeOut(Schema):
    from_stage: StageRef | None
    to_stage: StageRef
    at: datetime
    by: UserRef | None
    note: str


class SampleIn(Schema):
    account_id: int
    opportunity_id: int | None = None
    product: str = Field(..., max_length=200)
    quantity: Decimal = Decimal(1)
    unit: str = Field("", max_length=20)
    sent_on: date | None = Field(None, description="Default: today")
    contact_id: int | None = Field(None, description="Who received it (a contact of the account)")
    agreed_standard: str = Field("", max_length=4000)
    accepted: str = Field("pending", description="pending, yes or no")
    result_note: str = Field("", max_length=4000)


class SamplePatch(Schema):
    version: int
    opportunity_id: int | None = None
    product: str | None = Field(None, max_length=200)
    quantity: Decimal | None = None
    unit: str | None = Field(None, max_length=20)
    sent_on: date | None = None
    contact_id: int | None = None
    agreed_standard: str | None = Field(None, max_length=4000)
    accepted: str | None = None
    result_note: str | None = Field(None, max_length=4000)


class SampleOut(Schema):
    id: int
    account: AccountRef
    opportunity_id: int | None
    product: str
    quantity: Decimal
    unit: str
    sent_on: date
    contact_id: int | None
    agreed_standard: str
    accepted: str
    result_note: str
    version: int


class SampleFilters(Schema):
    account: int | None = None
    opportunity: int | None = None
    accepted: str | None = None


class CostIn(Schema):
    account_id: int
    opportunity_id: int | None = None
    kind: str = Field("other", description="sample, travel, entertainment, presales or other")
    amount: Decimal | None = Field(None, description="The cost; or give hours and rate")
    currency: str = Field("CNY", max_length=3)
    hours: Decimal | None = None
    rate: Decimal | None = None
    incurred_on: date | None = Field(None, description="Default: today")
    note: str = Field("", max_length=500)


class CostPatch(Schema):
    version: int
    opportunity_id: int | None = None
    kind: str | None = None
    amount: Decimal | None = None
    currency: str | None = Field(None, max_length=3)
    hours: Decimal | None = None
    rate: Decimal | None = None
    incurred_on: date | None = None
    note: str | None = Field(None, max_length=500)


class CostOut(Schema):
    id: int
    account: AccountRef
    opportunity_id: int | None
    kind: str
    amount: Decimal
    currency: str
    hours: Decimal | None
    rate: Decimal | None
    incurred_on: date
    note: str
    version: int


class CostFilters(Schema):
    account: int | None = None
    opportunity: int | None = None
    kind: str | None = None


class PositioningIn(Schema):
    version: int | None = Field(None, description="The version you read (none the first time); stale → 409")
    growth_type: str = Field("", description="stable, high_growth or empty")
    risk_assessment: str = Field("", max_length=4000)
    background_check: str = Field("", max_length=4000)
    needs_survey: str = Field("", max_length=4000)
    difficulty: str = Field("", description="low, medium, high or empty")


class PositioningOut(Schema):
    account_id: int
    growth_type: str = ""
    risk_assessment: str = ""
    background_check: str = ""
    needs_survey: str = ""
    difficulty: str = ""
    version: int | None = None


# --- sales records (s2) ----------------------------------------------------------------------


class SalesRecordIn(Schema):
    account_id: int
    order_number: str = Field(..., max_length=64)
    line_number: int = 1
    date: date
    product_line: str = Field(..., max_length=100)
    product: str = Field("", max_length=200)
    quantity: Decimal
    amount: Decimal
    gross_margin: Decimal
    is_return: bool = False
    currency: str = "CNY"


class SalesAccountOut(Schema):
    id: int
    name: str


class SalesRecordOut(Schema):
    id: int
    account: SalesAccountOut
    order_number: str
    line_number: int
    date: date
    product_line: str
    product: str
    quantity: Decimal
    amount: Decimal
    gross_margin: Decimal
    currency: str
    is_return: bool
    source: str
    sales_import_id: int | None
    created_at: datetime


class SalesImportErrorOut(Schema):
    row: int
    field: str | None
    column: str
    message: str


class SalesImportReportOut(Schema):
    ok: bool
    detail: str
    import_id: int | None
    rows: int
    created: int
    skipped: int
    failed: int
    errors: list[SalesImportErrorOut]
    errors_truncated: bool = False


class SalesMonthOut(Schema):
    month: date
    amount: Decimal
    gross_margin: Decimal
    quantity: Decimal
    lines: int


class SalesHistoryOut(Schema):
    account: SalesAccountOut
    currency: str
    months: list[SalesMonthOut]


# --- quotas (PIPE-7) [h1]


# --- forecasts (PIPE-4, ANA-1, ANA-2) [h2]
# Months are "YYYY-MM" strings checked by the selectors (a bad one is a 422 naming `from` / `to`).


class ForecastFilters(Schema):
    user: str | None = Field(None, description="one manager's id (default: everyone in your scope)")
    department: str | None = Field(None, description="a team's id: its members and sub-teams")
    first: str | None = Field(None, alias="from", description="first month, YYYY-MM (default: January this year)")
    last: str | None = Field(None, alias="to", description="last month, YYYY-MM (default: December of `from`'s year)")


class ForecastMonthOut(Schema):
    month: date
    is_past: bool
    is_current: bool
    quota: Decimal | None
    actual: Decimal | None = Field(description="sales credited to the managers; none for months to come")
    weighted: Decimal | None = Field(description="actual + Σ open amount × stage probability closing this month")
    commit: Decimal | None = Field(description="actual + open opportunities categorised commit")
    best_case: Decimal | None = Field(description="actual + open opportunities categorised best case or commit")
    pipeline: Decimal | None = Field(description="open amount closing this month (omitted ones left out)")
    statistical: Decimal | None = Field(description="statistical forecast (for past months: the back-test)")
    attainment: Decimal | None = Field(description="actual / quota, in percent")


class ForecastPersonOut(ForecastMonthOut):
    user: UserRef


class ForecastLevelOut(Schema):
    kind: str = Field(description="user, team or company")
    id: int | None
    name: str


class ForecastAccuracyMonthOut(Schema):
    month: date
    actual: Decimal | None
    weighted: Decimal | None
    commit: Decimal | None
    best_case: Decimal | None
    statistical: Decimal | None
    errors: dict[str, Decimal | None] = Field(description="|forecast − actual| / actual in percent, per forecast")


class ForecastBacktestOut(Schema):
    month: date
    forecast: Decimal | None
    actual: Decimal | None
    error: Decimal | None


class ForecastAccuracyOut(Schema):
    months: list[ForecastAccuracyMonthOut] = Field(description="past months: the snapshot at the month's start")
    wape: dict[str, Decimal | None] = Field(description="Σ|actual − forecast| / Σ actual in percent, per forecast")
    backtest: list[ForecastBacktestOut]
    backtest_wape: Decimal | None
    closest: str | None = Field(description="the forecast with the lowest WAPE")


class ForecastOut(Schema):
    level: ForecastLevelOut
    currency: str
    current_month: date
    months: list[ForecastMonthOut]
    people: list[ForecastPersonOut] = Field(description="each manager's current month against quota")
    accuracy: ForecastAccuracyOut


class SnapshotFilters(Schema):
    user: str | None = None
    first: str | None = Field(None, alias="from", description="first month, YYYY-MM")
    last: str | None = Field(None, alias="to", description="last month, YYYY-MM")
    taken_on: date | None = None


class ForecastSnapshotOut(Schema):
    id: int
    owner: UserRef
    month: date
    taken_on: date
    weighted: Decimal
    commit: Decimal
    best_case: Decimal
    pipeline: Decimal
    statistical: Decimal
    quota: Decimal | None


class ForecastRecomputeOut(Schema):
    accounts: int
    account_forecasts: int
    owner_months: int
    seconds: float


# --- funnel, result review, archive (ANA-3) [h3]
# Percentages are decimals with one place (null when there is nothing to divide by); amounts are CNY.


class FunnelFilters(Schema):
    pipeline: int | None = None
    owner: str | None = Field(None, description='"me" or a user id')
    team: int | None = Field(None, description="a department id: its people and those of its sub-departments")
    date_from: date | None = Field(None, alias="from", description="created on or after (default: 12 months ago)")
    date_to: date | None = Field(None, alias="to", description="created on or before (default: today)")


class ReviewFilters(Schema):
    owner: str | None = Field(None, description='"me" or a user id')
    team: int | None = None
    date_from: date | None = Field(None, alias="from", description="closed on or after (default: 12 months ago)")
    date_to: date | None = Field(None, alias="to", description="closed on or before (default: today)")


class FunnelStageOut(Schema):
    stage: StageRef
    reached: int
    amount: Decimal
    conversion: Decimal | None = Field(None, description="% of these that reached the next stage")


class FunnelOpenOut(Schema):
    stage: StageRef
    count: int
    amount: Decimal
    weighted: Decimal


class FunnelOpenTotalOut(Schema):
    count: int
    amount: Decimal
    weighted: Decimal


class FunnelOut(Schema):
    pipeline_id: int
    date_from: date
    date_to: date
    currency: str
    stages: list[FunnelStageOut]
    win_rate: Decimal | None
    open: list[FunnelOpenOut]
    open_total: FunnelOpenTotalOut

    @staticmethod
    def resolve_pipeline_id(obj) -> int:
        return obj["pipeline"].pk


class ReviewTotalsOut(Schema):
    won: int
    lost: int
    stopped: int
    won_amount: Decimal
    lost_amount: Decimal
    stopped_amount: Decimal
    win_rate: Decimal | None


class ReviewReasonOut(Schema):
    reason: str
    lost: int
    stopped: int
    amount: Decimal


class ReviewCompetitorOut(Schema):
    competitor: str
    lost: int
    stopped: int
    amount: Decimal


class ReviewStageOut(Schema):
    stage_id: int | None
    name: str
    lost: int
    stopped: int
    amount: Decimal


class ReviewManagerOut(ReviewTotalsOut):
    owner: UserRef


class ReviewLostOut(Schema):
    id: int
    name: str
    account: AccountRef
    owner: UserRef
    amount: Decimal
    currency: str
    closed_at: datetime | None
    closed_in_stage: str
    close_reason: str
    review_what_happened: str
    review_competitor: str
    review_lesson: str

    @staticmethod
    def resolve_closed_in_stage(obj) -> str:
        return str(obj.closed_in_stage.display_name) if obj.closed_in_stage else ""


class ReviewOut(Schema):
    date_from: date
    date_to: date
    currency: str
    totals: ReviewTotalsOut
    by_reason: list[ReviewReasonOut]
    by_competitor: list[ReviewCompetitorOut]
    by_stage: list[ReviewStageOut]
    by_manager: list[ReviewManagerOut]
    latest_lost: list[ReviewLostOut]


class ArchiveIn(Schema):
    version: int


# --- work plans (PIPE-4) and weekly report (GOV-8) [h4]


class WorkPlanItemIn(Schema):
    account_id: int | None = Field(None, description="An account the plan's owner can see; empty: any account")
    kind: str = Field(..., description="An activity kind: visit, call, message, meeting, sample_delivery, …")
    planned: int = Field(..., description="How many, 1–99")
    note: str = Field("", max_length=500)


class WorkPlanIn(Schema):
    version: int | None = Field(None, description="The version read; required when the plan exists")
    note: str | None = Field(None, max_length=4000)
    items: list[WorkPlanItemIn]


class WorkPlanItemOut(Schema):
    id: int
    account: AccountRef | None
    kind: str
    planned: int
    done: int
    rate: Decimal = Field(description="min(done, planned) / planned, in %")
    note: str


class WorkPlanOut(Schema):
    id: int
    owner: UserRef
    month: date
    note: str
    version: int
    planned: int
    done: int
    rate: Decimal | None = Field(description="Σ min(done, planned) / Σ planned, in %")
    unplanned: dict[str, int] = Field(description="The month's activities no item covers, by kind")
    items: list[WorkPlanItemOut]


class WorkPlanCurrentOut(Schema):
    """The plan as it stands, in a 409 answer."""

    id: int
    owner: UserRef
    month: date
    note: str
    version: int


class WorkPlanFilters(Schema):
    owner: int | None = None
    month: str | None = Field(None, description="YYYY-MM")


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]


class RecordArchiveIn(Schema):
    version: int = Field(..., description="The version you read; stale → 409")
    reason: str = Field("", max_length=500)


class DevelopmentReturnYearOut(Schema):
    year: int
    cost: Decimal = Field(..., description="Development cost of the year (archived costs left out)")
    costs_by_kind: dict[str, Decimal] = Field(..., description="sample, travel, entertainment, presales, other")
    sales_amount: Decimal
    gross_margin: Decimal
    net_return: Decimal = Field(..., description="gross margin − cost")
    cumulative_return: Decimal = Field(..., description="net return summed from the first year up to this one")


class DevelopmentReturnOut(Schema):
    account: SalesAccountOut
    currency: str
    years: list[DevelopmentReturnYearOut]
