from django.contrib import admin
from django_q.admin import ScheduleAdmin
from django_q.models import Schedule

from kam.core.jobs import SCHEDULE_PREFIX
from kam.core.models import AuditEvent, JobClaim


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only."""

    list_display = ["at", "actor", "action", "target_type", "target_repr"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_repr", "actor__username"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobClaim)
class JobClaimAdmin(admin.ModelAdmin):
    """Effects of background jobs that are done (a schedule's tick, a message), read-only."""

    list_display = ["key", "claimed_at"]
    search_fields = ["key"]
    date_hierarchy = "claimed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# django-q registers its own pages (successful, failed, scheduled and queued tasks); the admin role
# (a superuser) sees them. Schedules declared in code are shown read-only: `kam migrate` rewrites them.
admin.site.unregister(Schedule)


@admin.register(Schedule)
class CodeAwareScheduleAdmin(ScheduleAdmin):
    """django-q's schedules; the ones declared in the apps' jobs.py cannot be changed here."""

    @staticmethod
    def _declared_in_code(obj) -> bool:
        return obj is not None and (obj.name or "").startswith(SCHEDULE_PREFIX)

    def has_change_permission(self, request, obj=None):
        return not self._declared_in_code(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._declared_in_code(obj) and super().has_delete_permission(request, obj)
