"""Forms of the messaging pages; saving always goes through messaging.services."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import BuyingRole
from kam.engagement.forms import DateTimeInput
from kam.messaging import selectors
from kam.messaging.models import ChannelName, Language


class IdListField(forms.Field):
    """Ids from check boxes (several values of one name); each must be a whole number."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        values = value if isinstance(value, (list, tuple)) else ([value] if value else [])
        ids = []
        for item in values:
            text = str(item).strip()
            if not text.isdigit():
                raise ValidationError(_("Not a valid id: %(v)s.") % {"v": text[:20]})
            ids.append(int(text))
        return list(dict.fromkeys(ids))


class TemplateForm(forms.Form):
    """A message template with fields such as {contact.name}."""

    name = forms.CharField(label=_("name"), max_length=100)
    channel = forms.ChoiceField(label=_("channel"), choices=ChannelName.choices)
    language = forms.ChoiceField(label=_("language"), choices=Language.choices, initial=Language.ZH_HANS)
    subject = forms.CharField(label=_("subject"), max_length=200, required=False,
                              help_text=_("E-mail only."))  # fmt: skip
    body = forms.CharField(label=_("body"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 5}))
    provider_template_code = forms.CharField(label=_("provider template code"), max_length=100, required=False,
                                             help_text=_("SMS providers send approved templates only."))  # fmt: skip
    provider_params = forms.CharField(
        label=_("provider parameters"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line: variable=text, e.g. name={contact.name}"),
    )  # fmt: skip

    def clean_provider_params(self) -> dict:
        params = {}
        for number, line in enumerate(self.cleaned_data["provider_params"].splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValidationError(_("Line %(n)s: write variable=text.") % {"n": number})
            params[key.strip()] = value.strip()
        return params

    @staticmethod
    def initial_from(template) -> dict:
        return {
            "name": template.name, "channel": template.channel, "language": template.language,
            "subject": template.subject, "body": template.body,
            "provider_template_code": template.provider_template_code,
            "provider_params": "\n".join(f"{k}={v}" for k, v in (template.provider_params or {}).items()),
        }  # fmt: skip


class SendForm(forms.Form):
    """The bulk screen: channel, what to say, to whom (a saved audience and/or hand-picked), when."""

    WHEN_NOW, WHEN_LATER = "now", "later"

    channel = forms.ChoiceField(label=_("channel"), choices=ChannelName.choices, initial=ChannelName.LOG)
    template = forms.ModelChoiceField(label=_("template"), queryset=None, required=False,
                                      empty_label=_("— free text —"))  # fmt: skip
    subject = forms.CharField(label=_("subject"), max_length=200, required=False, help_text=_("E-mail only."))
    text = forms.CharField(label=_("text"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("Used without a template; may contain fields."))  # fmt: skip
    audience = forms.ModelChoiceField(label=_("saved audience"), queryset=None, required=False,
                                      empty_label=_("— none —"))  # fmt: skip
    contact_ids = IdListField(label=_("contacts"), required=False)
    account_ids = IdListField(label=_("accounts"), required=False)
    when = forms.ChoiceField(label=_("when"), choices=[(WHEN_NOW, _("now")), (WHEN_LATER, _("at a set time"))],
                             initial=WHEN_NOW, widget=forms.RadioSelect)  # fmt: skip
    at = forms.DateTimeField(label=_("send at"), required=False, widget=DateTimeInput())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = selectors.template_list()
        self.fields["audience"].queryset = selectors.audience_list(user)

    def clean(self):
        data = super().clean()
        if data.get("when") == self.WHEN_LATER and not data.get("at"):
            self.add_error("at", _("Give the time to send at."))
        return data

    def send_at(self):
        return self.cleaned_data["at"] if self.cleaned_data.get("when") == self.WHEN_LATER else None


class AudienceForm(forms.Form):
    """Save the account list's filters under a name, optionally only some buying-centre roles."""

    name = forms.CharField(label=_("name"), max_length=100)
    buying_roles = forms.MultipleChoiceField(
        label=_("only contacts in these buying-centre roles"), choices=BuyingRole.choices, required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every contact of the accounts."),
    )  # fmt: skip
    is_shared = forms.BooleanField(label=_("shared with colleagues"), required=False)


class AudienceEditForm(forms.Form):
    """Rename or (un)share an audience from the list."""

    name = forms.CharField(label=_("name"), max_length=100)
    is_shared = forms.BooleanField(label=_("shared with colleagues"), required=False)


class GreetingSendForm(forms.Form):
    """Complete a prepared holiday greeting and send it."""

    template = forms.ModelChoiceField(label=_("template"), queryset=None, required=False)
    audience = forms.ModelChoiceField(label=_("audience"), queryset=None, required=False)
    send_at = forms.DateTimeField(label=_("send at"), required=False, widget=DateTimeInput())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = selectors.template_list()
        self.fields["audience"].queryset = selectors.audience_list(user)
