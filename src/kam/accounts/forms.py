"""Forms of the customer-archive pages; saving always goes through accounts.services."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from kam.accounts.models import (
    Account,
    AccountContact,
    AttachmentKind,
    Contact,
    TeamAccess,
    Visitor,
)
from kam.core import regions
from kam.org.models import Role

User = get_user_model()


class DateInput(forms.DateInput):
    """<input type=date> takes ISO dates only, whatever the language's date format."""

    input_type = "date"

    def __init__(self, attrs=None, format="%Y-%m-%d"):
        super().__init__(attrs, format=format)


class AccountForm(forms.ModelForm):
    short_names = forms.CharField(
        label=_("short names"), required=False, help_text=_("Separate with commas, e.g. 中行, BOC")
    )
    tags = forms.CharField(label=_("tags"), required=False, help_text=_("Separate with commas"))
    confirm_duplicates = forms.BooleanField(label=_("Save anyway (same phone as another account)"), required=False)
    website = forms.URLField(label=_("website"), required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Account
        fields = [
            "name", "name_en", "short_names", "credit_code", "credit_code_exception", "industry", "ownership",
            "employees", "annual_revenue", "province", "city", "district", "address", "phone", "website", "parent",
            "procurement_mode", "purchase_pattern", "lead_source", "lifecycle", "value_tier", "description",
            "owner",
        ]  # fmt: skip
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from kam.core import scopes

        self.fields["credit_code"].max_length = 30
        self.fields["credit_code"].widget.attrs["maxlength"] = 30
        visible = scopes.visible_accounts(user)
        if self.instance.parent_id and not visible.filter(pk=self.instance.parent_id).exists():
            # A head office outside the user's scope is neither shown nor changed (nor lost on save).
            del self.fields["parent"]
        else:
            self.fields["parent"].queryset = visible.only("id", "name")
            self.fields["parent"].required = False
        self.fields["owner"].queryset = User.objects.filter(is_active=True, role__in=[Role.KA_MANAGER, Role.KA_HEAD])
        self.fields["owner"].required = False
        if user.role == Role.KA_MANAGER:
            del self.fields["owner"]
        province = self.data.get("province") or self.initial.get("province") or getattr(self.instance, "province", "")
        city = self.data.get("city") or self.initial.get("city") or getattr(self.instance, "city", "")
        self.fields["province"] = forms.ChoiceField(label=_("province"), required=False,
                                                    choices=[("", "—"), *regions.provinces()])  # fmt: skip
        self.fields["city"] = forms.ChoiceField(label=_("city"), required=False,
                                                choices=[("", "—"), *regions.children(province)])  # fmt: skip
        self.fields["district"] = forms.ChoiceField(label=_("district"), required=False,
                                                    choices=[("", "—"), *regions.children(city)])  # fmt: skip
        for name, level in (("province", "city"), ("city", "district")):
            self.fields[name].widget.attrs.update(
                {"hx-get": "/regions/options/", "hx-target": f"#id_{level}", "hx-trigger": "change",
                 "hx-include": "#id_province, #id_city", "hx-vals": f'{{"level": "{level}"}}'}
            )  # fmt: skip
        if self.instance.pk:
            # The model's list would otherwise be shown (and saved back) as "['中行', 'BOC']".
            self.initial["short_names"] = ", ".join(self.instance.short_names or [])
            self.initial.setdefault("tags", ", ".join(t.name for t in self.instance.tags.all()))

    def _post_clean(self):
        # The service validates the model (credit code, phone, region, duplicates) in one place.
        pass

    def service_fields(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in self.Meta.fields if name in self.fields}
        data = {
            k: ("" if v is None and k not in ("employees", "annual_revenue", "parent", "owner") else v)
            for k, v in data.items()
        }
        if data.get("owner") is None:
            data.pop("owner", None)
        return data

    def tag_list(self) -> list[str]:
        return [t.strip() for t in (self.cleaned_data.get("tags") or "").replace("，", ",").split(",") if t.strip()]


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "name", "name_en", "gender", "mobile", "phone", "email", "wechat", "birthday", "birthday_is_lunar",
            "birth_year", "hometown", "interests", "joined_company_on", "authority", "personality",
            "working_style", "family_notes", "notes",
        ]  # fmt: skip
        widgets = {
            "birthday": DateInput(),
            "joined_company_on": DateInput(),
            "family_notes": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def _post_clean(self):
        pass

    def service_fields(self) -> dict:
        nullable = {"birthday", "birth_year", "joined_company_on"}
        return {k: (v if v is not None or k in nullable else "") for k, v in self.cleaned_data.items()}


class PositionForm(forms.ModelForm):
    class Meta:
        model = AccountContact
        fields = ["title", "department_name", "buying_role", "influence", "attitude", "reports_to", "is_primary"]

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reports_to"].queryset = AccountContact.objects.filter(account=account).select_related("contact")
        self.fields["reports_to"].label_from_instance = lambda p: f"{p.contact.name} {p.title}"
        self.fields["influence"].widget = forms.NumberInput(attrs={"min": 1, "max": 5})

    def _post_clean(self):
        pass


class AccountUpdateForm(forms.Form):
    happened_on = forms.DateField(label=_("date"), widget=DateInput())
    content = forms.CharField(label=_("content"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=AttachmentKind.choices)
    file = forms.FileField(label=_("file"))
    description = forms.CharField(label=_("description"), max_length=200, required=False)


class TeamMemberForm(forms.Form):
    user = forms.ModelChoiceField(label=_("colleague"), queryset=User.objects.filter(is_active=True))
    access = forms.ChoiceField(label=_("access"), choices=TeamAccess.choices)
    duty = forms.CharField(label=_("duty on the team"), max_length=100, required=False)


class VisitorForm(forms.ModelForm):
    class Meta:
        model = Visitor
        fields = ["name", "visited_on", "phone", "employer", "features", "address", "intention", "status"]
        widgets = {"visited_on": DateInput()}

    def _post_clean(self):
        pass


class PromoteForm(forms.Form):
    account = forms.ModelChoiceField(label=_("existing account"), required=False, queryset=Account.objects.none(),
                                     help_text=_("Leave empty to create an account from the employer."))  # fmt: skip
    confirm_duplicates = forms.BooleanField(label=_("Save anyway (same phone as another account)"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from kam.core import scopes

        self.fields["account"].queryset = scopes.editable_accounts(user).filter(is_archived=False)
