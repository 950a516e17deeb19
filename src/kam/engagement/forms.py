"""Forms of the activity and task pages; saving always goes through engagement.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import Account, Contact
from kam.core import scopes
from kam.engagement.models import (
    ActivityKind,
    CampaignKind,
    EventKind,
    ExecutiveSponsor,
    NotifyChannel,
    ParticipationStatus,
    PlanKind,
    ReviewEvery,
    SponsorTitle,
    TaskKind,
)

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
    kind = forms.ChoiceField(label=_("kind"), choices=TaskKind.choices, initial=TaskKind.FOLLOW_UP, required=False,
                             help_text=_("A call-back is reminded at its due time."))  # fmt: skip
    due_at = forms.DateTimeField(label=_("due"), widget=DateTimeInput())
    remind_at = forms.DateTimeField(label=_("remind at"), required=False, widget=DateTimeInput(),
                                    help_text=_("Optional: a reminder at this minute."))  # fmt: skip
    documents = forms.CharField(label=_("documents to bring"), required=False,
                                widget=forms.Textarea(attrs={"rows": 3}),
                                help_text=_("For a contract signing: one document per line."))  # fmt: skip
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
        data["documents"] = (data.get("documents") or "").splitlines()
        data["kind"] = data.get("kind") or TaskKind.FOLLOW_UP
        return data


class NotificationSettingsForm(forms.Form):
    """The user's own channel for reminders; validated by engagement.services (robot URL, e-mail)."""

    channel = forms.ChoiceField(label=_("also send reminders by"), choices=NotifyChannel.choices, required=False)
    address = forms.CharField(label=_("address or robot webhook URL"), max_length=500, required=False)
    secret = forms.CharField(label=_("robot signing secret"), max_length=200, required=False,
                             widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                             help_text=_("DingTalk and Feishu robots with signing; leave empty to keep the saved one."))  # fmt: skip
    daily_digest = forms.BooleanField(label=_("one daily digest instead of each reminder"), required=False)
    cadence_review = forms.ChoiceField(label=_("review accounts out of cadence"), choices=ReviewEvery.choices,
                                       help_text=_("For KA heads: the summary of their department."))  # fmt: skip

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        if not data.get("secret") and data.get("channel") in (NotifyChannel.DINGTALK, NotifyChannel.FEISHU):
            data.pop("secret", None)  # empty: keep the saved secret
        return data


# ---------------------------------------------------------------------------------------------
# executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class SponsorForm(forms.Form):
    sponsor = forms.ModelChoiceField(label=_("sponsor"), queryset=None)
    title = forms.ChoiceField(label=_("as"), choices=SponsorTitle.choices, initial=SponsorTitle.VICE_PRESIDENT)
    duties = forms.CharField(label=_("duties"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip
    since = forms.DateField(label=_("since"), widget=DateInput(), initial=timezone.localdate)
    until = forms.DateField(label=_("until"), widget=DateInput(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sponsor"].queryset = User.objects.filter(is_active=True).order_by("role", "username")


class PlanForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=PlanKind.choices, initial=PlanKind.EXECUTIVE_VISIT)
    every_months = forms.IntegerField(label=_("every (months)"), initial=6)
    sponsor = forms.ModelChoiceField(label=_("responsible sponsor"), queryset=ExecutiveSponsor.objects.none())
    starts_on = forms.DateField(label=_("first due on"), widget=DateInput(), initial=timezone.localdate)
    notes = forms.CharField(label=_("notes"), max_length=2000, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sponsor"].queryset = ExecutiveSponsor.objects.filter(account=account).select_related("sponsor")


class EventForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    kind = forms.ChoiceField(label=_("kind"), choices=EventKind.choices, initial=EventKind.FORUM)
    starts_at = forms.DateTimeField(label=_("starts"), widget=DateTimeInput())
    ends_at = forms.DateTimeField(label=_("ends"), widget=DateTimeInput())
    place = forms.CharField(label=_("place"), max_length=200, required=False)
    description = forms.CharField(label=_("description"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class InviteForm(forms.Form):
    """Invite contacts of an account (picked with the account picker); none ticked: all not invited yet."""

    account = forms.ModelChoiceField(label=_("account"), queryset=None, widget=forms.HiddenInput)
    contacts = forms.ModelMultipleChoiceField(
        label=_("contacts"), queryset=Contact.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = scopes.visible_accounts(user).only("id", "name")
        account_id = _int(self.data.get("account")) if self.is_bound else None
        self.account_id = account_id
        if account_id:
            self.fields["contacts"].queryset = contacts_of(account_id)

    def selected_account(self):
        return self.fields["account"].queryset.filter(pk=self.account_id).first() if self.account_id else None


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    kind = forms.ChoiceField(label=_("kind"), choices=CampaignKind.choices, initial=CampaignKind.TRIAL)
    product = forms.CharField(label=_("product"), max_length=200, required=False)
    starts_on = forms.DateField(label=_("starts on"), widget=DateInput())
    ends_on = forms.DateField(label=_("ends on"), widget=DateInput())
    goal = forms.CharField(label=_("goal"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    result_summary = forms.CharField(label=_("result"), max_length=5000, required=False,
                                     widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class ParticipantForm(forms.Form):
    account = forms.ModelChoiceField(label=_("account"), queryset=None, widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("status"), choices=ParticipationStatus.choices,
                               initial=ParticipationStatus.PLANNED)  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = scopes.visible_accounts(user).only("id", "name")
        self.account_id = _int(self.data.get("account")) if self.is_bound else None

    def selected_account(self):
        return self.fields["account"].queryset.filter(pk=self.account_id).first() if self.account_id else None


class ParticipantEditForm(forms.Form):
    status = forms.ChoiceField(label=_("status"), choices=ParticipationStatus.choices)
    result = forms.CharField(label=_("result"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
    feedback = forms.CharField(label=_("feedback"), max_length=2000, required=False,
                               widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip
