"""Data scopes: the one place that decides which accounts a user may see and change.

Every selector starts here. A user sees the accounts their scope covers (own, own department,
department and below, all) plus those whose virtual team they are on. What they may not see does
not exist for them: lookups answer 404, never 403.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from kam.accounts.models import Account, AccountContact, AccountTeamMember, Contact, TeamAccess, Visitor
from kam.engagement.models import (
    Activity,
    Campaign,
    CampaignParticipant,
    Event,
    ExecutivePlan,
    ExecutiveSponsor,
    Invitation,
    Reminder,
    Task,
)
from kam.messaging.models import Message
from kam.org.models import DataScope, Department, Role
from kam.sales.models import DevelopmentCost, Opportunity, SalesRecord, Sample  # pipeline (s1), sales records (s2)

# Roles that may change accounts they can see because of their scope (besides owner and team).
SCOPE_EDITORS = {Role.KA_HEAD, Role.ADMIN}


def _scope_q(user, *, owner_field: str, department_field: str) -> Q:
    """Q for the records a user's data scope covers, by owner and owner's department."""
    if user.data_scope == DataScope.ALL:
        # Not Q(): an empty Q vanishes when OR-ed with the team condition.
        return Q(pk__isnull=False)
    if user.data_scope == DataScope.SUBTREE and user.department_id:
        subtree = Department.objects.filter(path__startswith=user.department.path).values("pk")
        return Q(**{f"{department_field}__in": subtree})
    if user.data_scope == DataScope.DEPARTMENT and user.department_id:
        return Q(**{department_field: user.department_id})
    return Q(**{owner_field: user.pk})


def _is_active(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def _team_account_ids(user) -> list[int]:
    return list(AccountTeamMember.objects.filter(user=user).values_list("account_id", flat=True))


def visible_accounts(user, *, include_archived: bool = False) -> QuerySet[Account]:
    """Accounts the user may see: their scope, plus the virtual teams they are on.

    The team's accounts are looked up first and OR-ed in as a list of ids, only if there are any:
    `scope OR pk IN (subquery)` keeps PostgreSQL from using any index on accounts (a KA manager's
    filtered list, 255 of 100,000 accounts, took 85 ms instead of 9 ms; see bench/README.md).
    """
    if not _is_active(user):
        return Account.objects.none()
    accounts = Account.objects.all()
    if user.data_scope != DataScope.ALL:
        condition = _scope_q(user, owner_field="owner", department_field="department")
        if team := _team_account_ids(user):
            condition |= Q(pk__in=team)
        accounts = accounts.filter(condition)
    if not include_archived:
        accounts = accounts.filter(is_archived=False)
    return accounts


def editable_accounts(user) -> QuerySet[Account]:
    """Accounts the user may change: as owner, as a read-write team member, or as a head/admin in scope.

    Read-only roles (executive, finance, service) change no account, not even as a write member of a
    virtual team (their role may have changed since they were put on it).
    """
    if not _is_active(user):
        return Account.objects.none()
    if not user.can_edit_accounts:
        return Account.objects.none()
    owner = Q(owner=user)
    team_writer = Q(pk__in=AccountTeamMember.objects.filter(user=user, access=TeamAccess.WRITE).values("account_id"))
    condition = owner | team_writer
    if user.role in SCOPE_EDITORS:
        condition |= _scope_q(user, owner_field="owner", department_field="department")
    return Account.objects.filter(condition)


def get_account_for_user(user, pk, *, write: bool = False, include_archived: bool = False) -> Account:
    """The account, if the user may see it (and change it, with write=True); otherwise 404."""
    accounts = editable_accounts(user) if write else visible_accounts(user, include_archived=True)
    account = accounts.select_related("owner", "department", "parent").filter(pk=pk).first()
    if account is None or (account.is_archived and not include_archived and not write):
        raise Http404
    return account


def can_edit_account(user, account: Account) -> bool:
    return editable_accounts(user).filter(pk=account.pk).exists()


def visible_contacts(user, *, include_archived: bool = False) -> QuerySet[Contact]:
    """Contacts with a position at an account the user may see (the same rule as visible_accounts).

    Written as EXISTS over each contact's own positions, not as `pk IN (the contacts of every
    visible account)`: the IN form makes the database collect all visible contacts (a million for
    an administrator) on every query, EXISTS only checks the rows the rest of the query selects.
    """
    if not _is_active(user):
        return Contact.objects.none()
    positions = AccountContact.objects.filter(contact_id=OuterRef("pk"), account__is_archived=False)
    if user.data_scope != DataScope.ALL:
        condition = _scope_q(user, owner_field="account__owner", department_field="account__department")
        if team := _team_account_ids(user):
            condition |= Q(account_id__in=team)
        positions = positions.filter(condition)
    contacts = Contact.objects.filter(Exists(positions))
    if not include_archived:
        contacts = contacts.filter(is_archived=False)
    return contacts


def get_contact_for_user(user, pk, *, write: bool = False) -> Contact:
    """The contact, if at least one of its accounts is visible (editable, with write=True)."""
    accounts = editable_accounts(user) if write else visible_accounts(user)
    contact = Contact.objects.filter(pk=pk, positions__account__in=accounts).distinct().first()
    if contact is None:
        raise Http404
    return contact


def visible_visitors(user) -> QuerySet[Visitor]:
    """Visitor-register entries in the user's scope (by who recorded them)."""
    if not _is_active(user):
        return Visitor.objects.none()
    return Visitor.objects.filter(_scope_q(user, owner_field="owner", department_field="department"))


def get_visitor_for_user(user, pk, *, write: bool = False) -> Visitor:
    """The visitor entry, if in the user's scope; with write=True only for whoever recorded it or a
    KA head / admin in scope (others who see it get 403)."""
    visitor = visible_visitors(user).filter(pk=pk).first()
    if visitor is None:
        raise Http404
    if write and not can_edit_visitor(user, visitor):
        raise PermissionDenied
    return visitor


def can_edit_visitor(user, visitor: Visitor) -> bool:
    if visitor.owner_id == user.pk:
        return True
    return user.role in SCOPE_EDITORS


def visible_departments(user) -> QuerySet[Department]:
    """Departments a user may see in lists: their own subtree, or all with scope 'all'."""
    if not _is_active(user):
        return Department.objects.none()
    if user.data_scope == DataScope.ALL or user.role == Role.ADMIN:
        return Department.objects.all()
    if user.department_id:
        return Department.objects.filter(path__startswith=user.department.path)
    return Department.objects.none()


def _account_scope_q(user, *, prefix: str) -> Q:
    """Q on a record's account (`prefix`, e.g. "account") for the accounts the user may see, archived
    ones included: the same rule as visible_accounts, as a join condition, not `account IN (subquery)`."""
    if user.data_scope == DataScope.ALL:
        return Q(**{f"{prefix}__isnull": False})
    condition = _scope_q(user, owner_field=f"{prefix}__owner", department_field=f"{prefix}__department")
    if team := _team_account_ids(user):
        condition |= Q(**{f"{prefix}_id__in": team})
    return condition


def visible_activities(user, *, include_archived: bool = False) -> QuerySet[Activity]:
    """Activities (ENG-1) the user may see: exactly those whose account the user may see.

    With include_archived=True, archived activities and those of archived accounts are included
    (as visible_accounts(include_archived=True) includes archived accounts).
    """
    if not _is_active(user):
        return Activity.objects.none()
    activities = Activity.objects.filter(_account_scope_q(user, prefix="account"))
    if not include_archived:
        activities = activities.filter(is_archived=False, account__is_archived=False)
    return activities


def can_edit_activity(user, activity: Activity) -> bool:
    """An activity is changed (and archived) by whoever may change its account, or by the colleague who
    recorded it while the account is still visible to them (a read-only team member or an executive
    keeps the record of their own visit right). Callers check visibility first (get_activity_for_user)."""
    if editable_accounts(user).filter(pk=activity.account_id).exists():
        return True
    return activity.created_by_id == user.pk


def get_activity_for_user(user, pk, *, write: bool = False, include_archived: bool = False) -> Activity:
    """The activity, if its account is visible (404 otherwise); with write=True, 403 for one the user
    sees but may not change (see can_edit_activity). An archived activity is found only with
    include_archived=True (reading) or write=True."""
    activity = (
        visible_activities(user, include_archived=True).select_related("account", "created_by").filter(pk=pk).first()
    )
    if activity is None:
        raise Http404
    if (activity.is_archived or activity.account.is_archived) and not include_archived and not write:
        raise Http404
    if write and not can_edit_activity(user, activity):
        raise PermissionDenied
    return activity


def visible_tasks(user) -> QuerySet[Task]:
    """Tasks the user may see: assigned to them, created by them, or on an account they may see.

    A task without an account is seen only by its assignee and its creator; one on an archived
    account only by them too (the account has left the lists).
    """
    if not _is_active(user):
        return Task.objects.none()
    assigned = Q(assignee=user)
    created = Q(created_by=user)
    on_visible_account = Q(account__is_archived=False) & _account_scope_q(user, prefix="account")
    return Task.objects.filter(assigned | created | on_visible_account)


def can_edit_task(user, task: Task) -> bool:
    """A task is changed (completed, reopened, cancelled) by its assignee, its creator, or whoever may
    change its account."""
    if task.assignee_id == user.pk:
        return True
    if task.created_by_id == user.pk:
        return True
    return task.account_id is not None and editable_accounts(user).filter(pk=task.account_id).exists()


def editable_tasks(user) -> QuerySet[Task]:
    """The tasks can_edit_task allows, as one query (for lists that show buttons)."""
    if not _is_active(user):
        return Task.objects.none()
    assigned = Q(assignee=user)
    created = Q(created_by=user)
    on_editable_account = Q(account__in=editable_accounts(user).values("pk"))
    return Task.objects.filter(assigned | created | on_editable_account)


def get_task_for_user(user, pk, *, write: bool = False) -> Task:
    """The task, if visible (404 otherwise); with write=True, 403 for one the user sees but may not change."""
    task = visible_tasks(user).select_related("account", "contact", "assignee", "created_by").filter(pk=pk).first()
    if task is None:
        raise Http404
    if write and not can_edit_task(user, task):
        raise PermissionDenied
    return task


def visible_reminders(user) -> QuerySet[Reminder]:
    """Reminders (ENG-3) are personal: a user sees only their own inbox, whatever their data scope."""
    if not _is_active(user):
        return Reminder.objects.none()
    return Reminder.objects.filter(user=user)


def get_reminder_for_user(user, pk) -> Reminder:
    """One of the user's own reminders; anyone else's is 404."""
    reminder = visible_reminders(user).select_related("account", "contact", "task").filter(pk=pk).first()
    if reminder is None:
        raise Http404
    return reminder


def visible_messages(user) -> QuerySet[Message]:
    """Outbox messages (MSG-1) the user may see: exactly those whose account the user may see."""
    if not _is_active(user):
        return Message.objects.none()
    return Message.objects.filter(_account_scope_q(user, prefix="account"), account__is_archived=False)


def get_message_for_user(user, pk) -> Message:
    """The message, if its account is visible; otherwise 404."""
    message = visible_messages(user).select_related("contact", "account", "template").filter(pk=pk).first()
    if message is None:
        raise Http404
    return message


# --- executive sponsors and plans (ENG-5, ENG-6), events (ENG-6), campaigns (ENG-7) ---------------
# A sponsorship, a plan, an invitation and a campaign participation belong to their account: seen by
# whoever sees the account, changed by whoever may change it. Events and campaigns themselves carry no
# customer data: every active user sees them; their organiser / owner, a KA head and an admin change them.


def _on_visible_accounts(user, model):
    """Rows of `model` whose account the user may see (archived accounts left out)."""
    if not _is_active(user):
        return model.objects.none()
    return model.objects.filter(_account_scope_q(user, prefix="account"), account__is_archived=False)


def _get_on_account(user, rows, pk, *, write: bool):
    """A row on a visible account (404 otherwise); with write=True, 403 unless the user may change the account."""
    row = rows.select_related("account").filter(pk=pk).first()
    if row is None:
        raise Http404
    if write and not editable_accounts(user).filter(pk=row.account_id).exists():
        raise PermissionDenied
    return row


def visible_sponsors(user) -> QuerySet[ExecutiveSponsor]:
    """Executive sponsorships (ENG-5) of the accounts the user may see."""
    return _on_visible_accounts(user, ExecutiveSponsor)


def get_sponsor_for_user(user, pk, *, write: bool = False) -> ExecutiveSponsor:
    return _get_on_account(user, visible_sponsors(user).select_related("sponsor"), pk, write=write)


def visible_plans(user) -> QuerySet[ExecutivePlan]:
    """Executive visit and top-level meeting plans (ENG-6) of the accounts the user may see."""
    return _on_visible_accounts(user, ExecutivePlan)


def get_plan_for_user(user, pk, *, write: bool = False) -> ExecutivePlan:
    return _get_on_account(user, visible_plans(user).select_related("sponsor__sponsor"), pk, write=write)


def visible_invitations(user) -> QuerySet[Invitation]:
    """Event invitations (ENG-6) of contacts at accounts the user may see."""
    return _on_visible_accounts(user, Invitation)


def visible_campaign_participants(user) -> QuerySet[CampaignParticipant]:
    """Campaign participations (ENG-7) of the accounts the user may see."""
    return _on_visible_accounts(user, CampaignParticipant)


def get_participant_for_user(user, campaign, pk, *, write: bool = False) -> CampaignParticipant:
    rows = visible_campaign_participants(user).filter(campaign=campaign)
    return _get_on_account(user, rows, pk, write=write)


def visible_events(user) -> QuerySet[Event]:
    if not _is_active(user):
        return Event.objects.none()
    return Event.objects.all()


def can_edit_event(user, event: Event) -> bool:
    if event.owner_id == user.pk:
        return True
    if event.created_by_id == user.pk:
        return True
    return user.role in SCOPE_EDITORS


def get_event_for_user(user, pk, *, write: bool = False) -> Event:
    """The event (404 if there is none); with write=True, 403 unless its organiser, creator, a head or admin."""
    event = visible_events(user).select_related("owner").filter(pk=pk).first()
    if event is None:
        raise Http404
    if write and not can_edit_event(user, event):
        raise PermissionDenied
    return event


def visible_campaigns(user) -> QuerySet[Campaign]:
    if not _is_active(user):
        return Campaign.objects.none()
    return Campaign.objects.all()


def can_edit_campaign(user, campaign: Campaign) -> bool:
    if campaign.owner_id == user.pk:
        return True
    if campaign.created_by_id == user.pk:
        return True
    return user.role in SCOPE_EDITORS


def get_campaign_for_user(user, pk, *, write: bool = False) -> Campaign:
    """The campaign (404 if there is none); with write=True, 403 unless its owner, creator, a head or admin."""
    campaign = visible_campaigns(user).select_related("owner").filter(pk=pk).first()
    if campaign is None:
        raise Http404
    if write and not can_edit_campaign(user, campaign):
        raise PermissionDenied
    return campaign


def get_invitation_for_user(user, pk, *, write: bool = False) -> Invitation:
    """An invitation of a contact at a visible account (404 otherwise); write=True: 403 unless the
    user may change the account."""
    return _get_on_account(user, visible_invitations(user).select_related("event", "contact"), pk, write=write)


def get_invitation_for_contact(user, event, contact_id, *, write: bool = False) -> Invitation | None:
    """The event's invitation of a contact: 404 if the contact is not visible, None if not invited (at a
    visible account); with write=True, 403 unless the user may change the invitation's account."""
    if not visible_contacts(user).filter(pk=contact_id).exists():
        raise Http404
    invitation = visible_invitations(user).filter(event=event, contact_id=contact_id).first()
    if invitation is None:
        return None
    return get_invitation_for_user(user, invitation.pk, write=write)


# --- pipeline (s1): opportunities, samples and development costs (PIPE-1 … PIPE-8) -------------------
# Each belongs to its account: seen by whoever sees the account, changed by whoever may change it (403 for
# one seen but not changeable, 404 for a foreign one).


def visible_opportunities(user, *, include_archived: bool = False) -> QuerySet[Opportunity]:
    """Opportunities at the accounts the user may see (archived accounts left out)."""
    rows = _on_visible_accounts(user, Opportunity)
    return rows if include_archived else rows.filter(is_archived=False)


def get_opportunity_for_user(user, pk, *, write: bool = False) -> Opportunity:
    rows = visible_opportunities(user, include_archived=True).select_related("stage", "pipeline", "owner")
    return _get_on_account(user, rows, pk, write=write)


def visible_samples(user) -> QuerySet[Sample]:
    """Samples (PIPE-8) sent to the accounts the user may see."""
    return _on_visible_accounts(user, Sample).filter(is_archived=False)


def get_sample_for_user(user, pk, *, write: bool = False) -> Sample:
    return _get_on_account(user, visible_samples(user).select_related("contact", "opportunity"), pk, write=write)


def visible_development_costs(user) -> QuerySet[DevelopmentCost]:
    """Development costs (PIPE-5) of the accounts the user may see."""
    return _on_visible_accounts(user, DevelopmentCost).filter(is_archived=False)


def get_development_cost_for_user(user, pk, *, write: bool = False) -> DevelopmentCost:
    return _get_on_account(user, visible_development_costs(user).select_related("opportunity"), pk, write=write)


# --- sales records (s2): a sales line belongs to its account (issue 3 item 6) -------------------------
# Seen by whoever sees the account (archived accounts left out of lists); written by whoever may change it.


def visible_sales_records(user) -> QuerySet[SalesRecord]:
    """Sales lines of the accounts the user may see."""
    return _on_visible_accounts(user, SalesRecord)


def get_sales_record_for_user(user, pk) -> SalesRecord:
    """The sales line, if its account is visible; otherwise 404."""
    return _get_on_account(user, visible_sales_records(user), pk, write=False)


# --- people whose sales figures a user may see (quotas, forecasts, weekly reports: issue 3) ---------


def visible_sales_people(user) -> QuerySet:
    """Users whose figures (quota, credited sales, forecast, weekly report) a user may see: the same data
    scope as accounts, applied to people: own → themselves; department → their department; department
    and below → its subtree; all → everyone. Inactive users stay visible (their past figures count)."""
    from kam.org.models import User

    if not _is_active(user):
        return User.objects.none()
    return User.objects.filter(_scope_q(user, owner_field="pk", department_field="department"))


def may_set_quotas(user) -> bool:
    """KA heads set the quotas of the people and teams in their scope; administrators everyone's."""
    return _is_active(user) and user.role in SCOPE_EDITORS
