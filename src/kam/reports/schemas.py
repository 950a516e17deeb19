"""Input and output schemas of the reports API."""

from datetime import date, datetime

from ninja import Field, Schema

from kam.accounts.schemas import UserRef


class WeeklyReportOut(Schema):
    id: int
    manager: UserRef
    week_start: date
    generated_at: datetime
    sent_to: list[int] = Field(description="The supervisors it was sent to (user ids)")
    data: dict = Field(description="The figures as generated: money as decimal strings, rates in % (see docs/api.md)")


class WeeklyReportFilters(Schema):
    manager: int | None = None
    week: date | None = Field(None, description="Any day of the week wanted")


class WeeklyReportGenerateIn(Schema):
    week_start: date = Field(..., description="A Monday, not in the future")


class WeeklyReportGenerateOut(Schema):
    week_start: date
    reports: list[WeeklyReportOut]
