"""Input and output schemas of the messaging API (templates, outbox, webhooks)."""

from datetime import datetime

from ninja import Field, Schema

from kam.accounts.schemas import AccountRef


class ContactRef(Schema):
    id: int
    name: str


class TemplateIn(Schema):
    name: str = Field(..., max_length=100)
    channel: str = Field(..., description="aliyun_sms, tencent_sms, email or log")
    language: str = Field("zh-hans", description="zh-hans, zh-hant or en")
    subject: str = Field("", max_length=200)
    body: str = Field("", max_length=5000, description="Text with fields: {contact.name} {account.name} {user.name}")
    provider_template_code: str = Field("", max_length=100, description="Approved SMS template code (SMS providers)")
    provider_params: dict[str, str] = Field(default_factory=dict, description='e.g. {"name": "{contact.name}"}')


class TemplatePatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=100)
    channel: str | None = None
    language: str | None = None
    subject: str | None = Field(None, max_length=200)
    body: str | None = Field(None, max_length=5000)
    provider_template_code: str | None = Field(None, max_length=100)
    provider_params: dict[str, str] | None = None


class VersionIn(Schema):
    version: int


class TemplateOut(Schema):
    id: int
    name: str
    channel: str
    language: str
    subject: str
    body: str
    provider_template_code: str
    provider_params: dict[str, str]
    is_archived: bool
    version: int
    updated_at: datetime


class SendIn(Schema):
    contact_id: int
    account_id: int | None = Field(None, description="The account it is sent for (default: the contact's first)")
    channel: str = Field(..., description="aliyun_sms, tencent_sms, email or log")
    template_id: int | None = None
    text: str = Field("", max_length=5000, description="Used without a template; may contain fields")
    subject: str = Field("", max_length=200)
    at: datetime | None = Field(None, description="Send at this time (with its zone); default now")


class BulkSendIn(Schema):
    channel: str
    contact_ids: list[int] = Field(default_factory=list, description="Hand-picked contacts")
    account_ids: list[int] = Field(default_factory=list, description="All contacts of these accounts")
    audience_id: int | None = Field(None, description="A saved audience: its contacts you can see now")
    template_id: int | None = None
    text: str = Field("", max_length=5000)
    subject: str = Field("", max_length=200)
    at: datetime | None = None


class BatchOut(Schema):
    id: int
    total: int
    queued: int
    skipped: int
    created_at: datetime


class EventOut(Schema):
    status: str
    at: datetime
    provider_code: str
    detail: str


class MessageOut(Schema):
    id: int
    contact: ContactRef
    account: AccountRef
    channel: str
    template_id: int | None
    batch_id: int | None
    recipient: str
    subject: str
    body: str
    scheduled_for: datetime
    status: str
    provider_message_id: str
    provider_code: str
    reason: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class MessageDetailOut(MessageOut):
    events: list[EventOut]


class MessageFilters(Schema):
    status: str | None = None
    contact: int | None = None
    account: int | None = None
    batch: int | None = None


class WebhookOut(Schema):
    deliveries: int
    replies: int


class ConsentIn(Schema):
    opted_out: bool = Field(..., description="true: the contact opts out of this channel kind; false: back in")
    note: str = Field("", max_length=300)


class ConsentOut(Schema):
    contact_id: int
    kind: str
    opted_out: bool
    opted_out_at: datetime | None
    source: str
    note: str

    @staticmethod
    def resolve_opted_out(obj) -> bool:
        return obj.opted_out_at is not None


class AudienceFiltersIn(Schema):
    """The account list's filters (see GET /accounts)."""

    owner: int | None = None
    department: int | None = None
    province: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=200)
    industry: str | None = Field(None, max_length=200)
    ownership: str | None = Field(None, max_length=200)
    lifecycle: str | None = Field(None, max_length=200)
    tag: str | None = Field(None, max_length=200)
    q: str | None = Field(None, max_length=200)


class AudienceIn(Schema):
    name: str = Field(..., max_length=100)
    filters: AudienceFiltersIn = Field(default_factory=AudienceFiltersIn)
    buying_roles: list[str] = Field(default_factory=list, description="Only contacts in these buying-centre roles")
    is_shared: bool = False


class AudiencePatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    name: str | None = Field(None, max_length=100)
    filters: AudienceFiltersIn | None = None
    buying_roles: list[str] | None = None
    is_shared: bool | None = None


class AudienceOut(Schema):
    id: int
    name: str
    filters: dict
    buying_roles: list[str]
    is_shared: bool
    is_archived: bool
    created_by: int
    version: int
    updated_at: datetime

    @staticmethod
    def resolve_created_by(obj) -> int:
        return obj.created_by_id


class AudienceCountOut(Schema):
    recipients: int
    opted_out: int
