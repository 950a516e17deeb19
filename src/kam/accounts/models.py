"""The customer archive (客户档案): accounts, contacts and the buying centre, visitors."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kam.core.models import VersionedModel
from kam.org.models import Department


class Industry(models.TextChoices):
    """Industry sections after GB/T 4754-2017."""

    AGRICULTURE = "agriculture", _("agriculture, forestry and fishing")
    MINING = "mining", _("mining")
    MANUFACTURING = "manufacturing", _("manufacturing")
    UTILITIES = "utilities", _("electricity, heat, gas and water")
    CONSTRUCTION = "construction", _("construction")
    TRADE = "trade", _("wholesale and retail")
    LOGISTICS = "logistics", _("transport, storage and postal services")
    HOSPITALITY = "hospitality", _("hotels and catering")
    IT = "it", _("information technology and software")
    FINANCE = "finance", _("financial services")
    REAL_ESTATE = "real_estate", _("real estate")
    BUSINESS_SERVICES = "business_services", _("leasing and business services")
    RESEARCH = "research", _("research and technical services")
    ENVIRONMENT = "environment", _("water, environment and public facilities")
    EDUCATION = "education", _("education")
    HEALTH = "health", _("health and social work")
    CULTURE = "culture", _("culture, sports and entertainment")
    PUBLIC = "public", _("public administration")
    OTHER = "other", _("other")


class Ownership(models.TextChoices):
    PRIVATE = "private", _("private enterprise")
    STATE_OWNED = "state_owned", _("state-owned enterprise")
    JOINT_VENTURE = "joint_venture", _("Sino-foreign joint venture")
    GOVERNMENT = "government", _("government agency")
    LISTED = "listed", _("listed company")
    FOREIGN = "foreign", _("foreign-owned enterprise")


class ProcurementMode(models.TextChoices):
    CENTRALIZED = "centralized", _("centralized")
    DECENTRALIZED = "decentralized", _("decentralized")


class PurchasePattern(models.TextChoices):
    CONTINUOUS = "continuous", _("continuous")
    ONE_OFF = "one_off", _("one-off")


class LeadSource(models.TextChoices):
    REFERRAL = "referral", _("referral")
    EXHIBITION = "exhibition", _("exhibition")
    WEBSITE = "website", _("website")
    COLD_CALL = "cold_call", _("cold call")
    TENDER = "tender", _("public tender")
    WALK_IN = "walk_in", _("walk-in visitor")
    PARTNER = "partner", _("partner or dealer")
    OTHER = "other", _("other")


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", _("prospect")
    CUSTOMER = "customer", _("customer")
    DORMANT = "dormant", _("dormant")
    LOST = "lost", _("lost")


class ValueTier(models.TextChoices):
    """The account's value tier (SEG-3: 铂金 / 黄金 / 铁 / 铅), set by hand until segmentation computes it."""

    PLATINUM = "platinum", _("platinum")
    GOLD = "gold", _("gold")
    IRON = "iron", _("iron")
    LEAD = "lead", _("lead")


class Tag(models.Model):
    """A free label on accounts, e.g. 世界500强."""

    name = models.CharField(_("tag"), max_length=40, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class Account(VersionedModel):
    """A customer company (客户), with its owner — the one KA manager who is its interface."""

    name = models.CharField(_("legal name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    short_names = models.JSONField(_("short names"), default=list, blank=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    credit_code_exception = models.BooleanField(_("credit code confirmed despite failed check"), default=False)
    industry = models.CharField(_("industry"), max_length=30, choices=Industry.choices, blank=True)
    ownership = models.CharField(_("ownership type"), max_length=20, choices=Ownership.choices, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(
        _("annual revenue (CNY)"), max_digits=18, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    province = models.CharField(_("province"), max_length=12, blank=True)  # GB/T 2260 codes
    city = models.CharField(_("city"), max_length=12, blank=True)
    district = models.CharField(_("district"), max_length=12, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    website = models.URLField(_("website"), max_length=200, blank=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="branches",
        verbose_name=_("head office"),
    )
    procurement_mode = models.CharField(
        _("procurement mode"), max_length=20, choices=ProcurementMode.choices, blank=True
    )
    purchase_pattern = models.CharField(
        _("purchase pattern"), max_length=20, choices=PurchasePattern.choices, blank=True
    )
    lead_source = models.CharField(_("lead source"), max_length=20, choices=LeadSource.choices, blank=True)
    lifecycle = models.CharField(_("lifecycle"), max_length=20, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    value_tier = models.CharField(_("value tier"), max_length=10, choices=ValueTier.choices, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="accounts", verbose_name=_("tags"))
    description = models.TextField(_("notes"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_accounts", verbose_name=_("owner")
    )
    # The owner's department, kept with the account so data scopes are one indexed filter.
    department = models.ForeignKey(
        Department, null=True, on_delete=models.PROTECT, related_name="accounts", verbose_name=_("department")
    )
    is_archived = models.BooleanField(_("archived"), default=False)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    # Derived columns for duplicate checks and Chinese sorting (kept by the services).
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False, default="")
    name_sort = models.CharField(max_length=400, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["name_sort", "id"]
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            # The home page's "recently changed" accounts, newest first, without sorting them all.
            models.Index(fields=["-updated_at"], name="account_recently_changed"),
            models.Index(fields=["owner", "is_archived", "name_sort"]),
            models.Index(fields=["department", "is_archived", "name_sort"]),
            models.Index(fields=["is_archived", "name_sort"]),
            models.Index(fields=["credit_code"]),
            models.Index(fields=["phone"]),
            # The list filters: the page count must not read every account in the scope.
            models.Index(fields=["province", "lifecycle", "name_sort"]),
            models.Index(fields=["city"]),
            models.Index(fields=["industry"]),
            models.Index(fields=["ownership"]),
            models.Index(fields=["lifecycle"]),
        ]

    def __str__(self) -> str:
        return self.name


class TeamAccess(models.TextChoices):
    READ = "read", _("read")
    WRITE = "write", _("read and write")


class AccountTeamMember(models.Model):
    """A colleague on the account's virtual team (GOV-1), with read or read-write access."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_teams", verbose_name=_("user")
    )
    access = models.CharField(_("access"), max_length=10, choices=TeamAccess.choices, default=TeamAccess.READ)
    duty = models.CharField(_("duty on the team"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="team_member_once")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account}"


class AccountUpdate(models.Model):
    """A dated piece of dynamic information (动态信息) on an account (ARC-7); never overwritten."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="updates")
    happened_on = models.DateField(_("date"))
    content = models.TextField(_("content"), max_length=5000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, verbose_name=_("author"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["-happened_on", "-id"]
        verbose_name = _("dynamic information")
        verbose_name_plural = _("dynamic information")

    def __str__(self) -> str:
        return f"{self.happened_on} {self.content[:30]}"


class AttachmentKind(models.TextChoices):
    CONTRACT = "contract", _("contract copy")
    LICENCE = "licence", _("business licence")
    EVALUATION = "evaluation", _("consumption evaluation report")
    OTHER = "other", _("other")


def attachment_path(instance, filename):
    # Never trust the uploaded name on disk: a random name under the account's folder.
    import uuid

    return f"accounts/{instance.account_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file kept with an account (contract copy, licence…), stored outside the web root."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=20, choices=AttachmentKind.choices, default=AttachmentKind.OTHER)
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("file size"))
    description = models.CharField(_("description"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    is_archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class BuyingRole(models.TextChoices):
    """The five people who shape a purchase (影响采购决策的五种人), plus the insider."""

    DECISION_MAKER = "decision_maker", _("decision maker")
    USER = "user", _("end user")
    PURCHASER = "purchaser", _("purchaser / finance (budget owner)")
    TECHNICAL = "technical", _("technical evaluator")
    SUPPORTER = "supporter", _("supporter (assistant, secretary)")
    CHAMPION = "champion", _("internal champion (内线)")
    OTHER = "other", _("other")


class Attitude(models.TextChoices):
    CHAMPION = "champion", _("champion")
    SUPPORTIVE = "supportive", _("supportive")
    NEUTRAL = "neutral", _("neutral")
    SCEPTICAL = "sceptical", _("sceptical")
    OPPOSED = "opposed", _("opposed")


class Personality(models.TextChoices):
    """Customer personality types from the training material (SEG-9)."""

    SELF_RIGHTEOUS = "self_righteous", _("自以为是型 — opinionated")
    OPEN_MINDED = "open_minded", _("兼收并蓄型 — welcomes everyone")
    DOUBTFUL = "doubtful", _("将信将疑型 — asks again and again")
    PRETEND_EXPERT = "pretend_expert", _("冒充内行型 — unsure underneath")
    OPPORTUNIST = "opportunist", _("见风使舵型 — bends with the wind")
    DEVIOUS = "devious", _("心术不正型 — sweet words")
    INTROVERT = "introvert", _("性格内向型 — few words")
    BRAVADO = "bravado", _("真假豪气型 — grand gestures")


PERSONALITY_ADVICE = {
    Personality.SELF_RIGHTEOUS: _(
        "Do not argue head-on. Acknowledge their expertise, let them reach the conclusion, and "
        "support your case with facts and references they can verify."
    ),
    Personality.OPEN_MINDED: _(
        "They are friendly to every supplier. Pin down concrete next steps and a decision date; "
        "make your differentiators clear in writing so you are not one of many."
    ),
    Personality.DOUBTFUL: _(
        "Expect repeated questions. Answer consistently, give proof (cases, test reports, "
        "references, samples) and guarantees; never press for a quick decision."
    ),
    Personality.PRETEND_EXPERT: _(
        "Do not expose gaps in their knowledge. Give them face, explain simply as if confirming "
        "what they know, and hand them material they can present as their own."
    ),
    Personality.OPPORTUNIST: _(
        "They follow the stronger side. Show firmness and the backing of senior people; keep "
        "terms fixed and written; win the real decision maker as well."
    ),
    Personality.DEVIOUS: _(
        "Sweet words, hidden intentions. Keep everything in writing and above board, involve "
        "more than one contact, and never accept improper requests."
    ),
    Personality.INTROVERT: _(
        "Few words, little warmth shown. Be patient and sincere, ask open questions, listen, "
        "follow up in writing and build trust over several contacts."
    ),
    Personality.BRAVADO: _(
        "Grand promises may be real or show. Be respectful, verify authority and budget, and "
        "confirm commitments in writing before committing resources."
    ),
}


class Gender(models.TextChoices):
    FEMALE = "female", _("female")
    MALE = "male", _("male")


class Contact(VersionedModel):
    """A person at a customer (联系人), with a personal file; may belong to several accounts."""

    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)
    phone = models.CharField(_("office phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat = models.CharField(_("WeChat"), max_length=50, blank=True)
    # Personal file (ARC-2): opening it is audited.
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    birthday_is_lunar = models.BooleanField(_("birthday is in the lunar calendar"), default=False)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    hometown = models.CharField(_("hometown"), max_length=100, blank=True)
    interests = models.CharField(_("interests"), max_length=300, blank=True)
    joined_company_on = models.DateField(_("in the company since"), null=True, blank=True)
    authority = models.CharField(_("authority"), max_length=300, blank=True)
    personality = models.CharField(_("personality type"), max_length=20, choices=Personality.choices, blank=True)
    working_style = models.CharField(_("working style"), max_length=300, blank=True)
    family_notes = models.TextField(_("family notes"), max_length=2000, blank=True)
    notes = models.TextField(_("notes"), max_length=5000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_archived = models.BooleanField(_("archived"), default=False)
    name_sort = models.CharField(max_length=200, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["name_sort", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["mobile"])]

    def __str__(self) -> str:
        return self.name

    @property
    def personality_advice(self) -> str:
        return PERSONALITY_ADVICE.get(self.personality, "")


# The personal file (ARC-2): shown only where opening it is audited.
PERSONAL_FIELDS = (
    "birthday", "birthday_is_lunar", "birth_year", "hometown", "interests", "joined_company_on", "family_notes",
)  # fmt: skip


class AccountContact(models.Model):
    """A contact's position at one account: title, buying-centre role, influence, reports-to."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="positions")
    title = models.CharField(_("job title"), max_length=100, blank=True)
    department_name = models.CharField(_("department at the customer"), max_length=100, blank=True)
    buying_role = models.CharField(_("buying-centre role"), max_length=20, choices=BuyingRole.choices, blank=True)
    influence = models.PositiveSmallIntegerField(_("influence (1–5)"), default=3)
    attitude = models.CharField(_("attitude to us"), max_length=20, choices=Attitude.choices, default=Attitude.NEUTRAL)
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports", verbose_name=_("reports to")
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        ordering = ["-influence", "id"]
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        constraints = [
            models.UniqueConstraint(fields=["account", "contact"], name="position_once_per_account"),
            models.CheckConstraint(condition=models.Q(influence__gte=1, influence__lte=5), name="influence_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} — {self.title} @ {self.account}"


class VisitorStatus(models.TextChoices):
    NEW = "new", _("new")
    FOLLOWING = "following", _("following up")
    PROMOTED = "promoted", _("promoted to account")
    CLOSED = "closed", _("closed")


class Visitor(VersionedModel):
    """A walk-in or first contact in the visitor register (来访登记, ARC-3)."""

    name = models.CharField(_("name"), max_length=50)
    visited_on = models.DateField(_("date of visit"))
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    features = models.CharField(_("notable features"), max_length=300, blank=True)
    employer = models.CharField(_("employer"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    intention = models.CharField(_("purchase intention"), max_length=500, blank=True)
    status = models.CharField(
        _("visit status"), max_length=20, choices=VisitorStatus.choices, default=VisitorStatus.NEW
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visitors", verbose_name=_("recorded by")
    )
    department = models.ForeignKey(Department, null=True, on_delete=models.PROTECT, related_name="visitors")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="visitors")

    class Meta:
        ordering = ["-visited_on", "-id"]
        verbose_name = _("visitor")
        verbose_name_plural = _("visitor register")

    def __str__(self) -> str:
        return f"{self.name} ({self.visited_on})"


class SearchTerm(models.Model):
    """A search key of an account or contact: a character bigram, pinyin, initials, English word.

    One indexed table serves fragment, pinyin and initials search on SQLite and PostgreSQL alike
    (ARC-6); the services rebuild an object's terms whenever its names change.
    """

    ACCOUNT = "a"
    CONTACT = "c"

    # The key is the lookup index (kind, term → objects): no surrogate id and no AUTOINCREMENT
    # counter to keep, which made inserting an import's millions of terms a third slower.
    pk = models.CompositePrimaryKey("kind", "term", "object_id")
    kind = models.CharField(max_length=1)
    object_id = models.BigIntegerField()
    term = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["kind", "object_id"], name="searchterm_by_object")]

    def __str__(self) -> str:
        return f"{self.kind}{self.object_id}:{self.term}"
