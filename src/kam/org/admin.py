"""Admin screens for the organisation (admin-only): departments and users, changes audited."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from kam.core import audit
from kam.core.models import AuditAction
from kam.org import services
from kam.org.models import Department, Role, User


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "parent"]
    list_filter = ["kind"]
    search_fields = ["name"]
    fields = ["name", "kind", "parent"]

    def save_model(self, request, obj, form, change):
        if change:
            parent_changed = "parent" in form.changed_data
            new_parent = obj.parent
            obj.parent = Department.objects.get(pk=obj.pk).parent
            obj.save()
            if parent_changed:
                services.department_move(actor=request.user, department=obj, parent=new_parent)
            audit.record(actor=request.user, action=AuditAction.UPDATE, target=obj,
                         changes={k: [None, str(form.cleaned_data.get(k))] for k in form.changed_data})  # fmt: skip
        else:
            created = services.department_create(actor=request.user, name=obj.name, kind=obj.kind, parent=obj.parent)
            obj.pk, obj.path = created.pk, created.path


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "department", "data_scope", "is_active"]
    list_filter = ["role", "data_scope", "is_active", "department"]
    fieldsets = [
        *BaseUserAdmin.fieldsets,
        (_("KAM"), {"fields": ["display_name", "role", "department", "data_scope", "phone", "language"]}),
    ]
    add_fieldsets = [
        *BaseUserAdmin.add_fieldsets,
        (_("KAM"), {"fields": ["display_name", "role", "department", "data_scope"]}),
    ]

    def save_model(self, request, obj, form, change):
        before = audit.snapshot(User.objects.get(pk=obj.pk), services.USER_FIELDS) if change else {}
        # The admin role is what opens these screens; other roles never do.
        obj.is_staff = obj.is_superuser = obj.role == Role.ADMIN
        if change and "department" in form.changed_data:
            obj.owned_accounts.update(department=obj.department)
        super().save_model(request, obj, form, change)
        if change:
            services.user_record_change(actor=request.user, user=obj, before=before)
        else:
            audit.record(actor=request.user, action=AuditAction.CREATE, target=obj,
                         changes=audit.diff({}, audit.snapshot(obj, services.USER_FIELDS)))  # fmt: skip
