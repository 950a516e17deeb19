"""Template tags used across KAM's pages."""

from decimal import Decimal, InvalidOperation

from django import template

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
