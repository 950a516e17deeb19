"""Template tags used across KAM's pages."""

from decimal import Decimal, InvalidOperation

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kam.core import regions

register = template.Library()


@register.simple_tag
def region(province="", city="", district=""):
    return regions.label(province, city, district)


@register.simple_tag(takes_context=True)
def page_query(context, number):
    """The current query string with another page number."""
    query = context["request"].GET.copy()
    query["page"] = number
    return query.urlencode()


@register.filter
def money(value, places=2):
    """An amount with thousands grouped by commas (千分位) and `places` decimals, in every language: Chinese
    business writing groups money this way, while Django's zh-Hans number format groups nothing.
    `places="auto"`: cents only when there are any (quota grids: 1,234,500)."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
        if places == "auto":
            places = 0 if amount == amount.to_integral_value() else 2
        return f"{amount:,.{int(places)}f}"
    except (InvalidOperation, ValueError):
        return value


# --- the main navigation: three groups, each with its pages; the group of the page shown is open -----------
# (url name of the link, label, url-name fragments that make it the current page). One place decides which
# group a page belongs to: a page whose url name matches no link's fragments belongs to no group (home).
NAV_GROUPS = (
    (
        "customers",
        _("Customers"),
        (
            ("account_list", _("Accounts"), ("account", "contact", "position", "search", "attachment", "team_member")),
            ("visitor_list", _("Visitors"), ("visitor",)),
            ("sponsor_list", _("Sponsors"), ("sponsor", "plan_")),
            ("import_page", _("Import / export"), ("import_page",)),
        ),
    ),
    (
        "engagement",
        _("Engagement"),
        (
            ("activity_list", _("Activities"), ("activity",)),
            ("task_list", _("Tasks"), ("task",)),
            ("reminder_list", _("Reminders"), ("reminder", "cadence", "notification")),
            ("message_send", _("Messages"), ("message_",)),
            ("event_list", _("Events"), ("event_", "invitation")),
            ("campaign_list", _("Campaigns"), ("campaign_",)),
        ),
    ),
    (
        "sales",
        _("Sales"),
        (
            ("opportunity_list", _("Opportunities"), ("opportunit", "sample", "cost_")),
            ("sales_funnel", _("Funnel"), ("sales_funnel", "sales_review")),
            ("sales_forecast", _("Forecast"), ("sales_forecast",)),
            ("quota_list", _("Quotas"), ("quota",)),
            ("work_plan", _("Work plan"), ("work_plan",)),
            ("weekly_report_list", _("Weekly reports"), ("weekly_report",)),
            ("sales_import", _("Sales import"), ("sales_import",)),
        ),
    ),
)
EDITORS_ONLY = {"sales_import"}  # links shown to users who may change accounts


@register.simple_tag(takes_context=True)
def main_nav(context) -> list[dict]:
    """The groups of the top bar, each {label, url, active, links: [{label, url, current}]}; the links of the
    group the current page belongs to are shown below the groups."""
    request = context["request"]
    section = getattr(request.resolver_match, "url_name", "") or ""
    user = request.user
    current = next((name for _key, _label, links in NAV_GROUPS for name, _text, fragments in links
                    if any(fragment in section for fragment in fragments)), None)  # fmt: skip
    groups = []
    for key, label, links in NAV_GROUPS:
        shown = [(name, text) for name, text, _fragments in links if name not in EDITORS_ONLY or user.can_edit_accounts]
        groups.append({
            "key": key, "label": label, "url": reverse(shown[0][0]),
            "active": any(name == current for name, _text in shown),
            "links": [{"label": text, "url": reverse(name), "current": name == current} for name, text in shown],
        })  # fmt: skip
    return groups
