from decimal import Decimal

from ninja import Field, Schema


class DepartmentOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    path: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    data_scope: str
    department_id: int | None
    is_active: bool
    version: int


# --- quotas (PIPE-7) [h1]


class QuotaOut(Schema):
    id: int
    user_id: int | None
    department_id: int | None
    month: str  # "2026-01"
    amount: Decimal
    currency: str
    version: int

    @staticmethod
    def resolve_month(obj) -> str:
        return f"{obj.month:%Y-%m}"


class QuotaIn(Schema):
    """One quota: a KA manager's (`user`) or a team's (`department`), for a month; amount null removes it."""

    user: int | None = None
    department: int | None = None
    month: str = Field(..., max_length=20, description='"2026-01" (also 2026/1, 2026年1月)')
    amount: Decimal | None = Field(None, description="CNY; null or empty removes the quota")
    version: int | None = Field(None, description="the version you read; 0 if there was none; omit: no check")


class QuotaBulkOut(Schema):
    created: int
    updated: int
    deleted: int
    unchanged: int
    items: list[QuotaOut]


class QuotaImportErrorOut(Schema):
    row: int
    field: str
    column: str
    message: str


class QuotaImportReportOut(Schema):
    ok: bool
    detail: str
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[QuotaImportErrorOut]


class CompletionCellOut(Schema):
    period: str  # "2026-01", "2026-Q1" or "2026"
    quota: Decimal | None
    actual: Decimal
    rate: Decimal | None = Field(description="actual / quota (1.0 = 100 %); null without a quota or with quota 0")
    own_quota: bool = Field(description="teams: the team's own quota was entered (else its members' are added)")


class CompletionRowOut(Schema):
    kind: str  # user, team, company
    user_id: int | None
    department_id: int | None
    label: str
    cells: list[CompletionCellOut]
    total: CompletionCellOut

    @staticmethod
    def resolve_user_id(obj):
        return obj.user.pk if obj.user else None

    @staticmethod
    def resolve_department_id(obj):
        return obj.department.pk if obj.department else None


class CompletionOut(Schema):
    year: int
    period: str
    periods: list[str]
    currency: str
    people: list[CompletionRowOut]
    teams: list[CompletionRowOut]
    company: CompletionRowOut | None
