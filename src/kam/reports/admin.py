from django.contrib import admin

from kam.reports.models import WeeklyReport


@admin.register(WeeklyReport)
class WeeklyReportAdmin(admin.ModelAdmin):
    """Read-only: reports are made by the weekly job or "generate now", never typed in."""

    list_display = ("week_start", "manager", "generated_at")
    list_filter = ("week_start",)
    search_fields = ("manager__username", "manager__display_name")
    readonly_fields = ("manager", "week_start", "generated_at", "sent_to", "data")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
