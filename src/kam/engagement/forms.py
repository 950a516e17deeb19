"""Forms of the activity and task pages; saving always goes through engagement.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import Account, Contact
from kam.core import scopes
from kam.engagement.models import ActivityKind

User = get_user_model()


class DateTimeInput(forms.DateTimeInput):
    """<input type=datetime-local>: the phone's own date and time picker; local time (Asia/Shanghai)."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def now_minute():
    return timezone.localtime().replace(second=0, microsecond=0)


class ParticipantChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


class ActivityForm(forms.Form):
    """Log a visit in under a minute: the account, what kind, when, who, what came of it, what next."""

    account = forms.ModelChoiceField(label=_("account"), queryset=None, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label=_("kind"), choices=ActivityKind.choices, initial=ActivityKind.VISIT,
                             widget=forms.RadioSelect)  # fmt: skip
    happened_at = forms.DateTimeField(label=_("when"), widget=DateTimeInput(), initial=now_minute)
    contacts = forms.ModelMultipleChoiceField(
        label=_("contacts met"), queryset=Contact.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    participants = ParticipantChoice(label=_("our participants"), queryset=None, required=False,
                                     widget=forms.SelectMultiple(attrs={"size": 4}))  # fmt: skip
    subject = forms.CharField(label=_("subject"), max_length=200, required=False)
    notes = forms.CharField(label=_("notes"), max_length=5000, required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    outcome = forms.CharField(label=_("outcome"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    next_step = forms.CharField(label=_("next step"), max_length=200, required=False,
                                help_text=_("Becomes a task of yours, due when you say."))  # fmt: skip
    next_step_due = forms.DateTimeField(label=_("next step due"), required=False, widget=DateTimeInput())

    def __init__(self, *args, user, activity=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.activity = activity
        self.fields["account"].queryset = scopes.visible_accounts(user).only("id", "name")
        self.fields["participants"].queryset = User.objects.filter(is_active=True).order_by("username")
        if activity is not None:
            # The account of a recorded activity stays; its contacts are that account's.
            del self.fields["account"]
            self.account = activity.account
        else:
            # Only a visible account offers its contacts (a made-up id in the address shows nothing).
            account_id = _int(self.data.get("account") if self.is_bound else self.initial.get("account"))
            self.account = self.fields["account"].queryset.filter(pk=account_id).first() if account_id else None
        self.account_id = self.account.pk if self.account else None
        if self.account_id:
            self.fields["contacts"].queryset = contacts_of(self.account_id)

    def selected_account(self):
        """The account picked (a visible one), for showing the choice again after an error."""
        return self.account

    def service_fields(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "account"}
        data["contacts"] = [c.pk for c in data.get("contacts") or []]
        data["participants"] = [u.pk for u in data.get("participants") or []]
        return data


def contacts_of(account_id):
    """The contacts with a position at the account (the ones an activity there can have met)."""
    return Contact.objects.filter(positions__account_id=account_id, is_archived=False).order_by("name_sort", "id")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TaskForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=200)
    due_at = forms.DateTimeField(label=_("due"), widget=DateTimeInput())
    account = forms.ModelChoiceField(label=_("account"), queryset=None, required=False, widget=forms.HiddenInput)
    assignee = forms.ModelChoiceField(label=_("assignee"), queryset=None, required=False,
                                      help_text=_("Leave empty for yourself."))  # fmt: skip
    notes = forms.CharField(label=_("notes"), max_length=5000, required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip

    def __init__(self, *args, user, task=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task
        accounts = scopes.visible_accounts(user)
        if task is not None and task.account_id:
            # The task's own account stays selectable even if the user no longer sees it otherwise.
            accounts = accounts | Account.objects.filter(pk=task.account_id)
        self.fields["account"].queryset = accounts.only("id", "name")
        self.fields["assignee"].queryset = User.objects.filter(is_active=True).order_by("username")
        self.account_id = _int(self.data.get("account") if self.is_bound else self.initial.get("account"))

    def selected_account(self):
        if not self.account_id:
            return None
        return self.fields["account"].queryset.filter(pk=self.account_id).first()

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if data.get("assignee") is None:
            data.pop("assignee", None)
        return data
