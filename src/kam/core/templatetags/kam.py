"""Template tags used across KAM's pages."""

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
