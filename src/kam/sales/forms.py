"""Forms of the sales pages; saving always goes through kam.sales.services."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kam.accounts.models import Contact
from kam.sales.models import (  # samples, costs, positioning [h5]
    CostKind,
    Difficulty,
    ForecastCategory,
    GrowthType,
    Opportunity,
    SampleAcceptance,
)

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


# --- samples, costs, positioning pages (PIPE-3, PIPE-5, PIPE-8) [h5]
# The forms parse; the rules (an opportunity and a contact of the account, a quantity above zero, no day in the
# future, amount or hours × rate) are the services' (add_service_errors puts them on the fields).


def _text(label, max_length, rows=3, required=False):
    return forms.CharField(label=label, required=required, max_length=max_length,
                           widget=forms.Textarea(attrs={"rows": rows}))  # fmt: skip


class PositioningForm(forms.Form):
    """The customer's positioning (PIPE-3)."""

    growth_type = forms.ChoiceField(label=_("type"), choices=[("", "—"), *GrowthType.choices], required=False)
    difficulty = forms.ChoiceField(label=_("difficulty of management"), choices=[("", "—"), *Difficulty.choices],
                                   required=False)  # fmt: skip
    risk_assessment = _text(_("risk assessment"), 4000)
    background_check = _text(_("background check"), 4000)
    needs_survey = _text(_("needs survey"), 4000)

    @staticmethod
    def initial_of(positioning) -> dict:
        if positioning is None:
            return {}
        return {name: getattr(positioning, name) for name in (
            "growth_type", "difficulty", "risk_assessment", "background_check", "needs_survey")}  # fmt: skip


class _AccountRecordForm(forms.Form):
    """A form whose opportunity (and contact) are picked among the account's."""

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opportunity"].queryset = account.opportunities.filter(is_archived=False).order_by("-created_at")
        if "contact" in self.fields:
            self.fields["contact"].queryset = (
                Contact.objects.filter(positions__account=account, is_archived=False).distinct().order_by("name")
            )

    def service_fields(self) -> dict:
        return dict(self.cleaned_data)


class SampleForm(_AccountRecordForm):
    """A sample sent (PIPE-8); the edit page records whether it was accepted against the agreed standard."""

    product = forms.CharField(label=_("product"), max_length=200)
    quantity = forms.DecimalField(label=_("quantity"), initial=1, max_digits=12, decimal_places=2)
    unit = forms.CharField(label=_("unit"), max_length=20, required=False)
    sent_on = forms.DateField(label=_("sent on"), widget=DateInput())
    contact = forms.ModelChoiceField(label=_("sent to"), queryset=Contact.objects.none(), required=False)
    opportunity = forms.ModelChoiceField(label=_("opportunity"), queryset=Opportunity.objects.none(), required=False)
    agreed_standard = _text(_("agreed standard"), 4000)
    accepted = forms.ChoiceField(label=pgettext_lazy("sample", "accepted"), choices=SampleAcceptance.choices,
                                 initial=SampleAcceptance.PENDING)  # fmt: skip
    result_note = _text(_("result"), 4000)

    @staticmethod
    def initial_of(sample) -> dict:
        initial = {name: getattr(sample, name) for name in (
            "product", "quantity", "unit", "sent_on", "agreed_standard", "accepted", "result_note")}  # fmt: skip
        initial.update(contact=sample.contact_id, opportunity=sample.opportunity_id)
        return initial


class CostForm(_AccountRecordForm):
    """A development cost (PIPE-5): an amount, or presales hours × rate (the service computes the amount)."""

    kind = forms.ChoiceField(label=_("kind"), choices=CostKind.choices, initial=CostKind.OTHER)
    amount = forms.DecimalField(label=_("amount"), required=False,
                                help_text=_("Or give hours and the rate per hour: the amount is then computed."))  # fmt: skip
    hours = forms.DecimalField(label=_("hours"), required=False)
    rate = forms.DecimalField(label=_("rate per hour"), required=False)
    incurred_on = forms.DateField(label=_("incurred on"), widget=DateInput())
    opportunity = forms.ModelChoiceField(label=_("opportunity"), queryset=Opportunity.objects.none(), required=False)
    note = forms.CharField(label=_("note"), max_length=500, required=False)

    @staticmethod
    def initial_of(cost) -> dict:
        initial = {name: getattr(cost, name) for name in ("kind", "amount", "hours", "rate", "incurred_on", "note")}
        initial["opportunity"] = cost.opportunity_id
        return initial
