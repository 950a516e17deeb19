"""The organisation: departments as a tree, users with one role and a data scope each."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from kam.core.models import VersionedModel


class DepartmentKind(models.TextChoices):
    COMPANY = "company", _("company")
    BRANCH = "branch", _("branch")
    KA_DEPARTMENT = "ka_department", _("KA department")
    TEAM = "team", _("team")


class Department(VersionedModel):
    """A unit of the company: company → branch → KA department → team."""

    name = models.CharField(_("department name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices, default=DepartmentKind.TEAM)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    # Materialized path "/1/4/9/": "department and below" is one indexed prefix match.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        ordering = ["path"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="department_unique_name_in_parent")]

    def __str__(self) -> str:
        return self.name

    def subtree(self):
        return Department.objects.filter(path__startswith=self.path)


class Role(models.TextChoices):
    KA_MANAGER = "ka_manager", _("KA manager")
    KA_HEAD = "ka_head", _("KA department head")
    EXECUTIVE = "executive", _("executive")
    FINANCE = "finance", _("finance")
    SERVICE = "service", _("service")
    ADMIN = "admin", _("administrator")


class DataScope(models.TextChoices):
    OWN = "own", _("own accounts")
    DEPARTMENT = "department", _("own department")
    SUBTREE = "subtree", _("department and below")
    ALL = "all", _("all accounts")


DEFAULT_SCOPE = {
    Role.KA_MANAGER: DataScope.OWN,
    Role.KA_HEAD: DataScope.SUBTREE,
    Role.EXECUTIVE: DataScope.ALL,
    Role.FINANCE: DataScope.ALL,
    Role.SERVICE: DataScope.SUBTREE,
    Role.ADMIN: DataScope.ALL,
}

# Roles that may create and edit accounts in their scope; the others read (and act in their area).
EDITING_ROLES = {Role.KA_MANAGER, Role.KA_HEAD, Role.ADMIN}


class KamUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        extra_fields.setdefault("data_scope", DataScope.ALL)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person who works in KAM: one role, one department, one data scope."""

    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.KA_MANAGER)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("department"),
    )
    data_scope = models.CharField(_("data scope"), max_length=20, choices=DataScope.choices, default=DataScope.OWN)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = KamUserManager()

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def can_edit_accounts(self) -> bool:
        return self.role in EDITING_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class Quota(VersionedModel):
    """A monthly sales target (定额, PIPE-7) for one KA manager or one team (a department), in CNY.

    Exactly one of `user` and `department` is set. Completion (定额完成率) is computed from the sales
    credited to the manager (sales.SalesCredit), never stored here.
    """

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="quotas", verbose_name=_("KA manager")
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="quotas", verbose_name=_("team")
    )
    month = models.DateField(_("month"))  # its first day
    amount = models.DecimalField(_("quota"), max_digits=16, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["month", "id"]
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, department__isnull=True)
                | models.Q(user__isnull=True, department__isnull=False),
                name="quota_user_or_team",
            ),
            models.UniqueConstraint(fields=["user", "month"], name="quota_user_month_unique"),
            models.UniqueConstraint(fields=["department", "month"], name="quota_department_month_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.department} {self.month:%Y-%m}"
