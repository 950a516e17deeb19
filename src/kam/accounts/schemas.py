"""Input and output schemas of the customer-archive API."""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Schema

from kam.accounts.models import Account, AccountContact, Contact
from kam.core import regions

# Literal types would be nicer in the docs; plain str plus service validation keeps one rule.


def _text(value) -> str | None:
    return None if value is None else str(value)


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj)


class DepartmentRef(Schema):
    id: int
    name: str


class AccountRef(Schema):
    id: int
    name: str


class AccountIn(Schema):
    name: str = Field(..., max_length=200, description="Legal name (Chinese and/or English)")
    name_en: str = Field("", max_length=200)
    short_names: list[str] = Field(default_factory=list, description="Short names (简称), e.g. 中行")
    credit_code: str = Field("", max_length=30, description="Unified social credit code, 18 characters")
    credit_code_exception: bool = Field(False, description="Keep a code whose check character fails (confirmed)")
    industry: str = ""
    ownership: str = ""
    employees: int | None = Field(None, ge=0, le=10_000_000)
    annual_revenue: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    province: str = ""
    city: str = ""
    district: str = ""
    address: str = Field("", max_length=300)
    phone: str = Field("", max_length=30)
    website: str = Field("", max_length=200)
    parent_id: int | None = Field(None, description="Head office account")
    procurement_mode: str = ""
    purchase_pattern: str = ""
    lead_source: str = ""
    lifecycle: str = "prospect"
    value_tier: str = Field("", description="platinum, gold, iron or lead (SEG-3); empty when not graded")
    description: str = Field("", max_length=5000)
    owner_id: int | None = Field(None, description="Defaults to the caller")
    tags: list[str] = Field(default_factory=list)
    confirm_duplicates: bool = Field(False, description="Save although another account has the same phone")


class AccountPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=200)
    name_en: str | None = Field(None, max_length=200)
    short_names: list[str] | None = None
    credit_code: str | None = Field(None, max_length=30)
    credit_code_exception: bool | None = None
    industry: str | None = None
    ownership: str | None = None
    employees: int | None = Field(None, ge=0, le=10_000_000)
    annual_revenue: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    province: str | None = None
    city: str | None = None
    district: str | None = None
    address: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=30)
    website: str | None = Field(None, max_length=200)
    parent_id: int | None = None
    procurement_mode: str | None = None
    purchase_pattern: str | None = None
    lead_source: str | None = None
    lifecycle: str | None = None
    value_tier: str | None = None
    description: str | None = Field(None, max_length=5000)
    owner_id: int | None = None
    tags: list[str] | None = None
    confirm_duplicates: bool = False


class VersionIn(Schema):
    version: int
    reason: str = Field("", max_length=500)


class AccountOut(Schema):
    id: int
    name: str
    name_en: str
    short_names: list[str]
    credit_code: str
    credit_code_exception: bool
    industry: str
    ownership: str
    employees: int | None
    annual_revenue: Decimal | None
    currency: str
    province: str
    city: str
    district: str
    region: str
    address: str
    phone: str
    website: str
    parent: AccountRef | None
    procurement_mode: str
    purchase_pattern: str
    lead_source: str
    lifecycle: str
    value_tier: str
    description: str
    tags: list[str]
    owner: UserRef
    department: DepartmentRef | None
    is_archived: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_region(obj: Account) -> str:
        return regions.label(obj.province, obj.city, obj.district)

    @staticmethod
    def resolve_tags(obj: Account) -> list[str]:
        return [t.name for t in obj.tags.all()]


class AccountListOut(Schema):
    id: int
    name: str
    short_names: list[str]
    credit_code: str
    industry: str
    ownership: str
    lifecycle: str
    value_tier: str
    province: str
    city: str
    region: str
    owner: UserRef
    department: DepartmentRef | None
    version: int

    @staticmethod
    def resolve_region(obj: Account) -> str:
        return regions.label(obj.province, obj.city, "")


class DuplicateOut(Schema):
    id: int | None
    name: str | None
    owner: str | None
    archived: bool | None
    matched_on: list[str]
    visible: bool


class PositionIn(Schema):
    title: str = Field("", max_length=100)
    department_name: str = Field("", max_length=100)
    buying_role: str = ""
    influence: int = Field(3, ge=1, le=5)
    attitude: str = "neutral"
    reports_to: int | None = Field(None, description="Contact id of the boss at the same account")
    is_primary: bool = False


class PositionOut(Schema):
    id: int
    account: AccountRef
    contact_id: int
    contact_name: str
    title: str
    department_name: str
    buying_role: str
    influence: int
    attitude: str
    reports_to_contact_id: int | None
    is_primary: bool

    @staticmethod
    def resolve_contact_name(obj: AccountContact) -> str:
        return obj.contact.name

    @staticmethod
    def resolve_reports_to_contact_id(obj: AccountContact) -> int | None:
        return obj.reports_to.contact_id if obj.reports_to_id else None


class ContactIn(Schema):
    account_id: int
    name: str = Field(..., max_length=50)
    name_en: str = Field("", max_length=100)
    gender: str = ""
    mobile: str = Field("", max_length=30)
    phone: str = Field("", max_length=30)
    email: str = Field("", max_length=254)
    wechat: str = Field("", max_length=50)
    birthday: date | None = None
    birthday_is_lunar: bool = False
    birth_year: int | None = None
    hometown: str = Field("", max_length=100)
    interests: str = Field("", max_length=300)
    joined_company_on: date | None = None
    authority: str = Field("", max_length=300)
    personality: str = ""
    working_style: str = Field("", max_length=300)
    family_notes: str = Field("", max_length=2000)
    notes: str = Field("", max_length=5000)
    position: PositionIn = Field(default_factory=PositionIn)


class ContactPatch(Schema):
    version: int
    name: str | None = Field(None, max_length=50)
    name_en: str | None = Field(None, max_length=100)
    gender: str | None = None
    mobile: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=30)
    email: str | None = Field(None, max_length=254)
    wechat: str | None = Field(None, max_length=50)
    birthday: date | None = None
    birthday_is_lunar: bool | None = None
    birth_year: int | None = None
    hometown: str | None = Field(None, max_length=100)
    interests: str | None = Field(None, max_length=300)
    joined_company_on: date | None = None
    authority: str | None = Field(None, max_length=300)
    personality: str | None = None
    working_style: str | None = Field(None, max_length=300)
    family_notes: str | None = Field(None, max_length=2000)
    notes: str | None = Field(None, max_length=5000)


class ContactOut(Schema):
    """A contact without the personal file (that is GET /contacts/{id}/personal-file, audited)."""

    id: int
    name: str
    name_en: str
    gender: str
    mobile: str
    phone: str
    email: str
    wechat: str
    authority: str
    personality: str
    personality_advice: str
    working_style: str
    notes: str
    is_archived: bool
    version: int

    @staticmethod
    def resolve_personality_advice(obj: Contact) -> str:
        return str(obj.personality_advice)


class PersonalFileOut(Schema):
    birthday: date | None
    birthday_is_lunar: bool
    birth_year: int | None
    age: int | None
    hometown: str
    interests: str
    joined_company_on: date | None
    family_notes: str


class AccountUpdateIn(Schema):
    happened_on: date
    content: str = Field(..., min_length=1, max_length=5000)


class AccountUpdateOut(Schema):
    id: int
    happened_on: date
    content: str
    author: UserRef
    created_at: datetime


class TeamMemberIn(Schema):
    access: str = Field("read", description="read or write")
    duty: str = Field("", max_length=100)


class TeamMemberOut(Schema):
    user: UserRef
    access: str
    duty: str


class AttachmentOut(Schema):
    id: int
    kind: str
    original_name: str
    content_type: str
    size: int
    description: str
    uploaded_by: UserRef
    uploaded_at: datetime


class ChangeOut(Schema):
    field: str
    label: str
    old: str | None
    new: str | None
    personal: bool = Field(description="A personal-file field: its values are shown only in the personal file")


class AuditEventOut(Schema):
    id: int
    at: datetime
    actor: str | None
    action: str
    target_type: str
    target_repr: str
    changes: list[ChangeOut]

    @staticmethod
    def resolve_changes(obj) -> list[dict]:
        from kam.accounts.selectors import readable_changes

        return [{**c, "old": _text(c["old"]), "new": _text(c["new"])} for c in readable_changes(obj)]

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return str(obj.actor) if obj.actor_id else None


class VisitorIn(Schema):
    name: str = Field(..., max_length=50)
    visited_on: date
    phone: str = Field("", max_length=30)
    features: str = Field("", max_length=300)
    employer: str = Field("", max_length=200)
    address: str = Field("", max_length=300)
    intention: str = Field("", max_length=500)
    status: str = "new"


class VisitorPatch(Schema):
    version: int
    name: str | None = Field(None, max_length=50)
    visited_on: date | None = None
    phone: str | None = Field(None, max_length=30)
    features: str | None = Field(None, max_length=300)
    employer: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=300)
    intention: str | None = Field(None, max_length=500)
    status: str | None = None


class VisitorOut(Schema):
    id: int
    name: str
    visited_on: date
    phone: str
    features: str
    employer: str
    address: str
    intention: str
    status: str
    owner: UserRef
    account_id: int | None
    contact_id: int | None
    version: int


class PromoteIn(Schema):
    account_id: int | None = Field(None, description="Existing account; omit to create one from the employer")
    confirm_duplicates: bool = False


class SearchOut(Schema):
    accounts: list[AccountListOut]
    contacts: list[ContactOut]


class RegionOut(Schema):
    code: str
    name: str
