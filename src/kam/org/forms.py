"""Forms of the organisation's pages: the quota page's filters and import (PIPE-7)."""

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.org.models import Department, User
from kam.org.selectors import PERIODS, quota_people, quota_teams


def _years() -> list[int]:
    """Years a quota may be set for: from KAM["SALES_EARLIEST_DATE"] to KAM["QUOTA_YEARS_AHEAD"] ahead."""
    first = int(settings.KAM["SALES_EARLIEST_DATE"][:4])
    return list(range(timezone.localdate().year + settings.KAM["QUOTA_YEARS_AHEAD"], first - 1, -1))


class QuotaFilterForm(forms.Form):
    """The quota page's year, period (month / quarter / year), team and person; what is not valid (or not
    visible to the viewer) falls back to this year, by month, everyone."""

    year = forms.TypedChoiceField(label=_("year"), coerce=int, required=False)
    period = forms.ChoiceField(label=_("period"), required=False,
                               choices=[("month", _("by month")), ("quarter", _("by quarter")), ("year", _("by year"))])  # fmt: skip
    department = forms.ModelChoiceField(label=_("team"), queryset=Department.objects.none(), required=False,
                                        empty_label=_("all teams"))  # fmt: skip
    user = forms.ModelChoiceField(label=_("KA manager"), queryset=User.objects.none(), required=False,
                                  empty_label=_("everyone"))  # fmt: skip

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(y, str(y)) for y in _years()]
        self.fields["department"].queryset = quota_teams(viewer).order_by("path")
        self.fields["user"].queryset = quota_people(viewer).order_by("department__path", "username")

    def values(self) -> dict:
        self.is_valid()  # a field that is not valid is left out of cleaned_data; the others still count
        data = self.cleaned_data
        period = data.get("period") or "month"
        return {"year": data.get("year") or timezone.localdate().year,
                "period": period if period in PERIODS else "month",
                "department": data.get("department"), "user": data.get("user")}  # fmt: skip


class QuotaImportForm(forms.Form):
    file = forms.FileField(label=_("File (.xlsx or .csv)"))
