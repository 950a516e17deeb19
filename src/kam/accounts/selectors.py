"""Reads on the customer archive; each starts from the caller's data scope (core.scopes)."""

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kam.accounts.models import PERSONAL_FIELDS, Account, AccountContact, AccountUpdate, Attachment, Contact
from kam.core import regions, scopes
from kam.core.models import AuditAction, AuditEvent
from kam.core.trees import ancestors
from kam.org.models import Role

ACCOUNT_FILTERS = (
    "owner", "department", "province", "city", "industry", "ownership", "lifecycle", "value_tier", "tag", "q",
)  # fmt: skip


def account_list(user, *, filters: dict | None = None, include_archived: bool = False) -> QuerySet[Account]:
    """Visible accounts, filtered; `q` is a text query (fragment, pinyin, initials, code)."""
    from kam.accounts.search import account_ids_matching

    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    accounts = scopes.visible_accounts(user, include_archived=include_archived)
    if "owner" in filters:
        accounts = accounts.filter(owner_id=filters["owner"])
    if "department" in filters:
        accounts = accounts.filter(department_id=filters["department"])
    for name in ("province", "city", "industry", "ownership", "lifecycle", "value_tier"):
        if name in filters:
            accounts = accounts.filter(**{name: filters[name]})
    if "tag" in filters:
        accounts = accounts.filter(tags__name=filters["tag"])
    if "q" in filters:
        accounts = accounts.filter(pk__in=account_ids_matching(filters["q"]))
    return accounts.select_related("owner", "department").order_by("name_sort", "id")


def account_detail(user, pk) -> Account:
    """The account for reading; a head office outside the user's scope is left out (not named)."""
    account = scopes.get_account_for_user(user, pk, include_archived=True)
    account = (
        Account.objects.select_related("owner", "department", "parent").prefetch_related("tags").get(pk=account.pk)
    )
    if (
        account.parent_id
        and not scopes.visible_accounts(user, include_archived=True).filter(pk=account.parent_id).exists()
    ):
        account.parent = None  # a read-only copy: never saved
    return account


def account_positions(account: Account) -> QuerySet[AccountContact]:
    """The buying centre of an account (its contacts' positions), most influential first."""
    return (
        AccountContact.objects.filter(account=account, contact__is_archived=False)
        .select_related("contact", "reports_to", "account")
        .order_by("-influence", "contact__name_sort")
    )


def account_branches(user, account: Account) -> QuerySet[Account]:
    return scopes.visible_accounts(user).filter(parent=account).select_related("owner")


def account_head_offices(user, account: Account) -> list[Account]:
    """The chain of head offices above an account that the user may see, nearest first."""
    chain = list(ancestors(account, "parent"))[1:]
    visible = set(scopes.visible_accounts(user).filter(pk__in=[a.pk for a in chain]).values_list("pk", flat=True))
    return [a for a in chain if a.pk in visible]


def account_updates(account: Account) -> QuerySet[AccountUpdate]:
    return account.updates.select_related("author")


def account_attachments(account: Account) -> QuerySet[Attachment]:
    return account.attachments.filter(is_archived=False).select_related("uploaded_by")


def can_see_history(user, account: Account) -> bool:
    """The account's audit history: its owner, heads and admins in scope, executives."""
    return account.owner_id == user.pk or user.role in (Role.KA_HEAD, Role.ADMIN, Role.EXECUTIVE)


def account_history(account: Account) -> QuerySet[AuditEvent]:
    return (
        AuditEvent.objects.filter(account_id=account.pk)
        .exclude(action=AuditAction.VIEW_PERSONAL)
        .select_related("actor")
    )


def org_chart(account: Account) -> dict:
    """The buying centre as a reports-to forest for ECharts' tree series (ARC-2)."""
    positions = list(account_positions(account))
    nodes = {
        p.pk: {
            "name": p.contact.name,
            "value": p.contact_id,
            "title": p.title,
            "role": p.get_buying_role_display() if p.buying_role else "",
            "attitude": p.attitude,
            "influence": p.influence,
            "children": [],
        }
        for p in positions
    }
    roots = []
    for p in positions:
        parent = nodes.get(p.reports_to_id)
        (parent["children"] if parent else roots).append(nodes[p.pk])
    return {"name": account.name, "children": roots}


def contact_list(user, *, q: str = "", account: int | None = None) -> QuerySet[Contact]:
    from kam.accounts.search import contact_ids_matching

    contacts = scopes.visible_contacts(user)
    if account:
        # Only a visible account filters: a shared contact must not confirm a foreign account's id.
        contacts = contacts.filter(positions__account__in=scopes.visible_accounts(user).filter(pk=account))
    if q:
        contacts = contacts.filter(pk__in=contact_ids_matching(q))
    return contacts.order_by("name_sort", "id")


def contact_positions(user, contact: Contact) -> QuerySet[AccountContact]:
    """The contact's positions at accounts the user may see."""
    return (
        contact.positions.filter(account__in=scopes.visible_accounts(user))
        .select_related("account", "reports_to__contact")
        .order_by("account__name_sort")
    )


REGION_FIELDS = {"province", "city", "district"}


def _readable_value(field, name: str, value):
    if value in (None, "", [], {}):
        return "—"
    if name in REGION_FIELDS:
        return regions.name(str(value)) or value
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool) or value in (True, False):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def readable_changes(event: AuditEvent) -> list[dict]:
    """An audit event's changes as labelled, human values: choice labels, region names, and the
    personal file masked (its values are seen only by opening it, which is logged)."""
    try:
        model = apps.get_model(event.target_type)
    except (LookupError, ValueError):
        model = None
    rows = []
    for name, change in (event.changes or {}).items():
        old, new = (change + [None, None])[:2] if isinstance(change, list) else (None, change)
        if old in (None, "", []) and new in (None, "", []):
            continue
        try:
            field = model._meta.get_field(name) if model else None
        except FieldDoesNotExist:
            field = None
        label = str(field.verbose_name) if field is not None and hasattr(field, "verbose_name") else name
        # The personal file's values show only where opening it is audited.
        if name in PERSONAL_FIELDS:
            rows.append({"field": name, "label": label, "old": None, "new": None, "personal": True})
            continue
        rows.append({"field": name, "label": label, "old": _readable_value(field, name, old),
                     "new": _readable_value(field, name, new), "personal": False})  # fmt: skip
    return rows


def account_history_entries(account: Account, *, limit: int = 100) -> list[dict]:
    return [{"event": event, "changes": readable_changes(event)} for event in account_history(account)[:limit]]
