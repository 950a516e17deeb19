"""Admin screen for the contact cadence rules (ENG-2): thresholds an administrator sets, changes audited."""

from django.contrib import admin

from kam.core import audit
from kam.core.models import AuditAction
from kam.engagement.models import CadenceRule


@admin.register(CadenceRule)
class CadenceRuleAdmin(admin.ModelAdmin):
    list_display = ["lifecycle", "tier", "max_days", "skip_holidays"]
    fields = ["lifecycle", "tier", "max_days", "skip_holidays"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(actor=request.user, action=AuditAction.UPDATE if change else AuditAction.CREATE, target=obj,
                     changes={k: [None, str(form.cleaned_data.get(k))] for k in form.changed_data})  # fmt: skip

    def delete_model(self, request, obj):
        audit.record(actor=request.user, action=AuditAction.DELETE, target=obj)
        super().delete_model(request, obj)
