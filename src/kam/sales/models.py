"""Sales (销售): the staged development process and its funnel (PIPE-1 … PIPE-8), and the sales records
(成交) the rest of KAM analyses."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kam.accounts.models import Account, Contact
from kam.core.models import VersionedModel

# ---------------------------------------------------------------------------------------------
# pipelines, stages and gates, opportunities (PIPE-1, PIPE-2, PIPE-3, PIPE-5, PIPE-6, PIPE-8)
# --- pipeline (s1)

# Default stages and gate items carry a code: their name is shown through gettext in the user's language
# (the seeded rows keep `name` / `label` empty); a name typed by an administrator is shown as typed.
DEFAULT_STAGE_NAMES = {
    "potential": _("potential"),
    "intention": _("intention"),
    "proposal": _("proposal"),
    "negotiation": _("negotiation"),
    "won": pgettext_lazy("deal", "won"),
    "lost": pgettext_lazy("deal", "lost"),
}
DEFAULT_GATE_LABELS = {
    "potential_need": _("potential need found"),
    "first_contact": _("first contact made"),
    "go_decision": _("go decision taken (or stop)"),
    "insider": _("insider identified"),
    "sample_accepted": _("sample delivered and accepted to the agreed standard"),
    "information_complete": _("information complete"),
    "need_confirmed": _("need confirmed"),
    "chance_assessed": _("chance of winning assessed"),
    "obstacles_known": _("obstacles known"),
    "expected_cost": _("expected cost estimated"),
    "plan_made": _("plan made"),
    "decision_maker": _("relationship with the key decision makers"),
    "executive_talks": _("executive talks held"),
    "site_inspection": _("site / factory inspection done"),
    "system_support": _("system support arranged"),
}


class StageKind(models.TextChoices):
    OPEN = "open", pgettext_lazy("deal", "open")
    WON = "won", pgettext_lazy("deal", "won")
    LOST = "lost", pgettext_lazy("deal", "lost")


class GateAutoCheck(models.TextChoices):
    """Gate items KAM verifies from its own records instead of a user's tick."""

    SAMPLE_ACCEPTED = "sample_accepted", _("a sample of the account accepted against the standard")
    INSIDER = "insider", _("the account has an internal champion (内线)")
    DECISION_MAKER = "decision_maker", _("a decision maker of the account supports us")


class Pipeline(models.Model):
    """A sales process (销售流程): its stages in order, each with a gate; one is the default."""

    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_pipeline"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One funnel stage (PIPE-1) with its win probability; open stages have a gate (PIPE-2)."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages", verbose_name=_("pipeline"))
    code = models.CharField(_("code"), max_length=30, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    order = models.PositiveSmallIntegerField(_("order"))
    probability = models.DecimalField(
        _("win probability (%)"), max_digits=5, decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    # Empty: KAM["OPPORTUNITY_STUCK_DAYS"].
    stuck_after_days = models.PositiveSmallIntegerField(_("stuck after (days)"), null=True, blank=True)

    class Meta:
        ordering = ["pipeline", "order", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [models.UniqueConstraint(fields=["pipeline", "order"], name="stage_order_unique")]

    def __str__(self) -> str:
        return str(self.display_name)

    @property
    def display_name(self):
        return self.name or DEFAULT_STAGE_NAMES.get(self.code, self.code)


class GateItem(VersionedModel):
    """One item of a stage's gate checklist (PIPE-2): ticked by a user, or checked by KAM (`auto_check`)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="gate_items", verbose_name=_("stage"))
    code = models.CharField(_("code"), max_length=30, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    auto_check = models.CharField(_("checked by KAM"), max_length=20, choices=GateAutoCheck.choices, blank=True)

    class Meta:
        ordering = ["stage", "order", "id"]
        verbose_name = _("gate item")
        verbose_name_plural = _("gate items")

    def __str__(self) -> str:
        return str(self.display_label)

    @property
    def display_label(self):
        return self.label or DEFAULT_GATE_LABELS.get(self.code, self.code)


class OpportunityStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("deal", "open")
    WON = "won", pgettext_lazy("deal", "won")
    LOST = "lost", pgettext_lazy("deal", "lost")
    STOPPED = "stopped", pgettext_lazy("deal", "stopped")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", pgettext_lazy("forecast category", "pipeline")
    BEST_CASE = "best_case", _("best case")
    COMMIT = "commit", _("commit")
    OMITTED = "omitted", _("omitted")


class Opportunity(VersionedModel):
    """A sales opportunity (商机) at an account, moving through its pipeline's stages and gates."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("account")
    )
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="+", verbose_name=_("pipeline"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage"))
    name = models.CharField(_("name"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2, default=Decimal(0))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("owner")
    )
    product_lines = models.JSONField(_("product lines"), default=list, blank=True)
    competitors = models.JSONField(_("competitors"), default=list, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Why it was stopped or lost, and the lost review (GOV-6).
    close_reason = models.TextField(pgettext_lazy("deal", "reason"), max_length=2000, blank=True)
    review_what_happened = models.TextField(_("what happened"), max_length=4000, blank=True)
    review_competitor = models.CharField(_("lost to competitor"), max_length=200, blank=True)
    review_lesson = models.TextField(_("lesson"), max_length=4000, blank=True)
    forecast_category = models.CharField(
        _("forecast category"), max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    # SPIN discovery notes (PIPE-6).
    spin_situation = models.TextField(_("situation"), max_length=4000, blank=True)
    spin_problem = models.TextField(_("problem"), max_length=4000, blank=True)
    spin_implication = models.TextField(_("implication"), max_length=4000, blank=True)
    spin_need_payoff = models.TextField(_("need-payoff"), max_length=4000, blank=True)
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    # The order of the furthest stage the opportunity ever reached: the funnel's conversion between stages
    # is one GROUP BY on it, not a walk through the stage history.
    reached_order = models.PositiveSmallIntegerField(_("furthest stage reached"), default=0)
    # Where a lost or stopped opportunity was when it closed (result review, ANA-3).
    closed_in_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("closed in stage")
    )
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["account", "status"], name="opportunity_account"),
            models.Index(fields=["owner", "status", "expected_close"], name="opportunity_owner"),
            models.Index(fields=["stage", "status"], name="opportunity_stage"),
            models.Index(fields=["status", "expected_close"], name="opportunity_close"),
            models.Index(fields=["created_at"], name="opportunity_created"),
            models.Index(fields=["status", "closed_at"], name="opportunity_closed"),
        ]

    def __str__(self) -> str:
        return self.name


class GateCheck(models.Model):
    """A gate item ticked on an opportunity: who confirmed it, when."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="gate_checks")
    item = models.ForeignKey(GateItem, on_delete=models.CASCADE, related_name="checks", verbose_name=_("gate item"))
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("gate check")
        verbose_name_plural = _("gate checks")
        constraints = [models.UniqueConstraint(fields=["opportunity", "item"], name="gate_check_unique")]

    def __str__(self) -> str:
        return f"{self.opportunity} · {self.item}"


class StageChange(models.Model):
    """An opportunity's move from one stage to another, kept for stage ageing and velocity."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["opportunity", "at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self) -> str:
        return f"{self.opportunity}: {self.from_stage} → {self.to_stage}"


class GrowthType(models.TextChoices):
    STABLE = "stable", _("stable type")
    HIGH_GROWTH = "high_growth", _("high-growth type")


class Difficulty(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")


class AccountPositioning(VersionedModel):
    """The customer's positioning (PIPE-3): stable or high-growth, risks, background, needs, difficulty."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="positioning")
    growth_type = models.CharField(_("type"), max_length=20, choices=GrowthType.choices, blank=True)
    risk_assessment = models.TextField(_("risk assessment"), max_length=4000, blank=True)
    background_check = models.TextField(_("background check"), max_length=4000, blank=True)
    needs_survey = models.TextField(_("needs survey"), max_length=4000, blank=True)
    difficulty = models.CharField(_("difficulty of management"), max_length=10, choices=Difficulty.choices, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("account positioning")
        verbose_name_plural = _("account positionings")

    def __str__(self) -> str:
        return f"{self.account}"


class SampleAcceptance(models.TextChoices):
    PENDING = "pending", _("pending")
    YES = "yes", pgettext_lazy("sample", "accepted")
    NO = "no", _("not accepted")


class Sample(VersionedModel):
    """A sample sent to an account (PIPE-8): what, when, to whom, accepted against the agreed standard or not."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="samples", verbose_name=_("account"))
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.PROTECT, related_name="samples",
        verbose_name=_("opportunity"),
    )  # fmt: skip
    product = models.CharField(_("product"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=2, default=Decimal(1))
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    sent_on = models.DateField(_("sent on"))
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("sent to")
    )
    agreed_standard = models.TextField(_("agreed standard"), max_length=4000, blank=True)
    accepted = models.CharField(
        pgettext_lazy("sample", "accepted"),
        max_length=10,
        choices=SampleAcceptance.choices,
        default=SampleAcceptance.PENDING,
    )
    result_note = models.TextField(_("result"), max_length=4000, blank=True)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-sent_on", "-id"]
        verbose_name = _("sample")
        verbose_name_plural = _("samples")
        indexes = [models.Index(fields=["account", "accepted"], name="sample_account")]

    def __str__(self) -> str:
        return f"{self.product} · {self.sent_on}"


class CostKind(models.TextChoices):
    SAMPLE = "sample", _("samples")
    TRAVEL = "travel", _("travel")
    ENTERTAINMENT = "entertainment", _("entertainment")
    PRESALES = "presales", _("presales hours")
    OTHER = "other", _("other")


class DevelopmentCost(VersionedModel):
    """A cost of winning or keeping an account (PIPE-5): an amount, or presales hours × rate."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="development_costs", verbose_name=_("account")
    )
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.PROTECT, related_name="costs",
        verbose_name=_("opportunity"),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=20, choices=CostKind.choices, default=CostKind.OTHER)
    # Always the cost in money: given, or hours × rate.
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    hours = models.DecimalField(_("hours"), max_digits=8, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(_("rate per hour"), max_digits=10, decimal_places=2, null=True, blank=True)
    incurred_on = models.DateField(_("incurred on"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-incurred_on", "-id"]
        verbose_name = _("development cost")
        verbose_name_plural = _("development costs")
        indexes = [models.Index(fields=["account", "incurred_on"], name="cost_account")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


# ---------------------------------------------------------------------------------------------
# sales records and their monthly aggregates (issue 3 item 6)


class SalesSource(models.TextChoices):
    IMPORT = "import", _("import")
    API = "api", _("API")


class SalesImportStatus(models.TextChoices):
    DONE = "done", _("imported")
    FAILED = "failed", _("failed, nothing saved")


class SalesImport(models.Model):
    """One ERP sales file imported (or refused): who, when, which file, and what each row did."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("imported by")
    )
    created_at = models.DateTimeField(_("imported at"), default=timezone.now, db_index=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("lines created"), default=0)
    skipped = models.PositiveIntegerField(_("duplicate lines skipped"), default=0)
    failed = models.PositiveIntegerField(_("rows with errors"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=SalesImportStatus.choices)
    errors = models.JSONField(_("errors"), default=list, blank=True)  # [{row, field, column, message}], capped

    class Meta:
        verbose_name = _("sales import")
        verbose_name_plural = _("sales imports")
        ordering = ["-created_at"]

    def __str__(self):
        return self.file_name or str(self.created_at)


class SalesRecord(models.Model):
    """One order line (成交): the real revenue of an account, from an ERP export or the API.

    (order number, line number) is unique: importing the same order line twice never doubles revenue.
    """

    # Not indexed alone: the (account, date) index serves lookups by account; one index less per line written.
    # Not a database constraint either (see sales_import below): the services resolve the account in the same
    # transaction, and accounts are archived, never deleted.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="sales_records", verbose_name=_("account"), db_index=False,
        db_constraint=False,
    )  # fmt: skip
    order_number = models.CharField(_("order number"), max_length=64)
    line_number = models.PositiveIntegerField(_("line number"), default=1)
    date = models.DateField(_("date"))
    product_line = models.CharField(_("product line"), max_length=100)
    product = models.CharField(_("product"), max_length=200, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=18, decimal_places=4)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    gross_margin = models.DecimalField(_("gross margin"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    is_return = models.BooleanField(_("return"), default=False)
    source = models.CharField(_("source"), max_length=10, choices=SalesSource.choices)
    # Neither is indexed nor a database constraint: on PostgreSQL each constraint is a trigger checked per
    # line at commit, which cost a million-line import more than the COPY itself. Both are set by the
    # services in the same transaction as the line; imports and users are kept (deactivated), not deleted.
    sales_import = models.ForeignKey(
        SalesImport, null=True, blank=True, on_delete=models.PROTECT, related_name="lines", verbose_name=_("import"),
        db_index=False, db_constraint=False,
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("recorded by"),
        db_index=False, db_constraint=False,
    )  # fmt: skip
    # The account's owner when the line was recorded: quota completion credits the sale to them (PIPE-7), and
    # a later transfer of the account does not rewrite past months. Empty for an account without owner.
    credited_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("credited to"), db_index=False, db_constraint=False,
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("sales record")
        verbose_name_plural = _("sales records")
        constraints = [
            models.UniqueConstraint(fields=["order_number", "line_number"], name="sales_record_order_line_unique"),
        ]
        indexes = [models.Index(fields=["account", "date"], name="sales_record_account_date")]

    def __str__(self):
        return f"{self.order_number}/{self.line_number}"


class SalesMonth(models.Model):
    """An account's sales of one month (the sum of its lines), kept current by the sales services."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="sales_months", verbose_name=_("account")
    )
    month = models.DateField(_("month"))  # its first day
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2, default=0)
    gross_margin = models.DecimalField(_("gross margin"), max_digits=20, decimal_places=2, default=0)
    quantity = models.DecimalField(_("quantity"), max_digits=22, decimal_places=4, default=0)
    lines = models.PositiveIntegerField(_("lines"), default=0)

    class Meta:
        verbose_name = _("monthly sales")
        verbose_name_plural = _("monthly sales")
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="sales_month_account_month_unique")]

    def __str__(self):
        return f"{self.account_id} {self.month:%Y-%m}"


class SalesCredit(models.Model):
    """The sales of one month credited to one manager (the sum of the lines credited to them), kept current
    by the sales services like SalesMonth: quota completion and forecasts against actuals read only this."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_credits", verbose_name=_("owner")
    )
    month = models.DateField(_("month"))  # its first day
    amount = models.DecimalField(_("amount"), max_digits=20, decimal_places=2, default=0)
    gross_margin = models.DecimalField(_("gross margin"), max_digits=20, decimal_places=2, default=0)
    lines = models.PositiveIntegerField(_("lines"), default=0)

    class Meta:
        verbose_name = _("credited sales")
        verbose_name_plural = _("credited sales")
        constraints = [models.UniqueConstraint(fields=["owner", "month"], name="sales_credit_owner_month_unique")]

    def __str__(self):
        return f"{self.owner_id} {self.month:%Y-%m}"


class FunnelCell(models.Model):
    """Opportunities counted by pipeline, owner, month created (Asia/Shanghai), furthest stage reached,
    current stage and openness, with their CNY amount: the funnel and today's open pipeline (PIPE-1) read
    these cells, a few thousand rows, instead of the opportunities. Kept current by the opportunity services
    in the same transaction as each write (archived opportunities are not counted), rebuilt by
    opportunity_cells_recompute."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"))
    reached_order = models.PositiveSmallIntegerField(_("furthest stage reached"))
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    is_open = models.BooleanField(default=True)
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)  # CNY opportunities only

    class Meta:
        verbose_name = _("funnel cell")
        verbose_name_plural = _("funnel cells")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "owner", "month", "reached_order", "stage", "is_open"],
                                    name="funnel_cell_unique"),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.owner_id} {self.month:%Y-%m} {self.reached_order}/{self.stage_id}"


class PipelineCell(models.Model):
    """Open opportunities counted by owner, month of expected close, forecast category and stage, with their
    amount: the forecast's weighted pipeline, commit and best case (PIPE-4) read these cells instead of the
    open opportunities. Kept like FunnelCell (archived opportunities and those without a close date are not
    counted)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"))
    forecast_category = models.CharField(max_length=10, choices=ForecastCategory.choices)
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("pipeline cell")
        verbose_name_plural = _("pipeline cells")
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "month", "forecast_category", "stage"], name="pipeline_cell_unique"
            ),
        ]

    def __str__(self):
        return f"{self.owner_id} {self.month:%Y-%m} {self.forecast_category}/{self.stage_id}"


# ---------------------------------------------------------------------------------------------
# forecasts (PIPE-4, ANA-1, ANA-2)


class ForecastSnapshot(models.Model):
    """One manager's forecast for one month as it stood on `taken_on` (PIPE-4): taken at the start of each
    month by a job, kept so that each forecast's accuracy can be measured against the actuals afterwards."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecast_snapshots", verbose_name=_("owner")
    )
    month = models.DateField(_("month"))  # the month forecast, its first day
    taken_on = models.DateField(_("taken on"))
    weighted = models.DecimalField(_("weighted pipeline"), max_digits=20, decimal_places=2, default=0)
    commit = models.DecimalField(_("commit"), max_digits=20, decimal_places=2, default=0)
    best_case = models.DecimalField(_("best case"), max_digits=20, decimal_places=2, default=0)
    pipeline = models.DecimalField(pgettext_lazy("forecast category", "pipeline"), max_digits=20, decimal_places=2,
                                   default=0)  # fmt: skip
    statistical = models.DecimalField(_("statistical forecast"), max_digits=20, decimal_places=2, default=0)
    quota = models.DecimalField(_("quota"), max_digits=20, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["month", "owner"]
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")
        constraints = [
            models.UniqueConstraint(fields=["owner", "month", "taken_on"], name="forecast_snapshot_unique"),
        ]

    def __str__(self):
        return f"{self.owner_id} {self.month:%Y-%m} @ {self.taken_on}"


class AccountForecast(models.Model):
    """The statistical forecast (ANA-2: trend and seasonality by regression) of one account's sales in one
    month. For a past month (`is_backtest`) it is the forecast made without that month's data, so its error
    against the actual month shows how far the method can be trusted for this account."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="sales_forecasts", verbose_name=_("account")
    )
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("forecast"), max_digits=20, decimal_places=2)
    is_backtest = models.BooleanField(_("back-test"), default=False)

    class Meta:
        verbose_name = _("account sales forecast")
        verbose_name_plural = _("account sales forecasts")
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="account_forecast_unique")]

    def __str__(self):
        return f"{self.account_id} {self.month:%Y-%m}"


class OwnerForecastMonth(models.Model):
    """The statistical forecast summed over one manager's accounts for one month, with (for past months) the
    same accounts' actual sales: what the forecast and forecast-accuracy pages read."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"))
    statistical = models.DecimalField(_("statistical forecast"), max_digits=20, decimal_places=2, default=0)
    actual = models.DecimalField(_("actual"), max_digits=20, decimal_places=2, null=True, blank=True)
    is_backtest = models.BooleanField(_("back-test"), default=False)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("manager's statistical forecast")
        verbose_name_plural = _("managers' statistical forecasts")
        constraints = [models.UniqueConstraint(fields=["owner", "month"], name="owner_forecast_month_unique")]

    def __str__(self):
        return f"{self.owner_id} {self.month:%Y-%m}"


# ---------------------------------------------------------------------------------------------
# monthly work plan (PIPE-4)


class WorkPlan(VersionedModel):
    """A manager's plan for one month (PIPE-4): the visits and actions planned, checked against what was done."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="work_plans", verbose_name=_("owner")
    )
    month = models.DateField(_("month"))  # its first day
    note = models.TextField(_("note"), max_length=4000, blank=True)

    class Meta:
        ordering = ["-month", "owner"]
        verbose_name = _("monthly work plan")
        verbose_name_plural = _("monthly work plans")
        constraints = [models.UniqueConstraint(fields=["owner", "month"], name="work_plan_owner_month_unique")]

    def __str__(self):
        return f"{self.owner} {self.month:%Y-%m}"


class WorkPlanItem(VersionedModel):
    """One planned action of a work plan: `planned` activities of a kind (visits, calls…) at an account."""

    plan = models.ForeignKey(WorkPlan, on_delete=models.CASCADE, related_name="items", verbose_name=_("plan"))
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("account")
    )
    kind = models.CharField(_("kind"), max_length=20)  # an engagement ActivityKind
    planned = models.PositiveSmallIntegerField(_("planned"), default=1)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["plan", "id"]
        verbose_name = _("work plan item")
        verbose_name_plural = _("work plan items")

    def __str__(self):
        return f"{self.plan}: {self.planned} × {self.kind}"
