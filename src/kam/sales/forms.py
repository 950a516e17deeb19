"""Forms of the sales pages; saving always goes through kam.sales.services."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kam.sales.models import ForecastCategory

# --- pipeline (s1): opportunity pages (PIPE-1, PIPE-2, PIPE-6, GOV-6)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _names(text: str) -> list[str]:
    """Entries typed as "A, B，C" → ["A", "B", "C"] (commas, Chinese commas and 、 separate them)."""
    for mark in ("，", "、", ";", "；"):
        text = text.replace(mark, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


class OpportunityForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    amount = forms.DecimalField(label=_("amount"), required=False)
    currency = forms.CharField(label=_("currency"), max_length=3, initial="CNY")
    expected_close = forms.DateField(label=_("expected close"), widget=DateInput(), required=False)
    product_lines = forms.CharField(label=_("product lines"), required=False, max_length=2000,
                                    help_text=_("Separate with commas."))  # fmt: skip
    competitors = forms.CharField(label=_("competitors"), required=False, max_length=2000,
                                  help_text=_("Separate with commas."))  # fmt: skip
    next_step = forms.CharField(label=_("next step"), max_length=200, required=False)
    source = forms.CharField(label=_("source"), max_length=100, required=False)
    forecast_category = forms.ChoiceField(label=_("forecast category"), choices=ForecastCategory.choices,
                                          initial=ForecastCategory.PIPELINE)  # fmt: skip
    spin_situation = forms.CharField(label=_("situation"), required=False, max_length=4000,
                                     widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    spin_problem = forms.CharField(label=_("problem"), required=False, max_length=4000,
                                   widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    spin_implication = forms.CharField(label=_("implication"), required=False, max_length=4000,
                                       widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    spin_need_payoff = forms.CharField(label=_("need-payoff"), required=False, max_length=4000,
                                       widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["amount"] = data["amount"] if data["amount"] is not None else 0
        for name in ("product_lines", "competitors"):
            data[name] = _names(data[name])
        return data

    @staticmethod
    def initial_of(opportunity) -> dict:
        initial = {name: getattr(opportunity, name) for name in (
            "name", "amount", "currency", "expected_close", "next_step", "source", "forecast_category",
            "spin_situation", "spin_problem", "spin_implication", "spin_need_payoff")}  # fmt: skip
        initial["product_lines"] = ", ".join(opportunity.product_lines)
        initial["competitors"] = ", ".join(opportunity.competitors)
        return initial


class CloseForm(forms.Form):
    """Stop (无则终止) or lose an opportunity with the review (GOV-6)."""

    outcome = forms.ChoiceField(
        label=_("outcome"), choices=[("stop", _("stop")), ("lose", pgettext_lazy("deal", "lost"))]
    )
    reason = forms.CharField(
        label=pgettext_lazy("deal", "reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    what_happened = forms.CharField(label=_("what happened"), max_length=4000,
                                    widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    competitor = forms.CharField(label=_("lost to competitor"), max_length=200, required=False)
    lesson = forms.CharField(label=_("lesson"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


# --- sales records (s2)
