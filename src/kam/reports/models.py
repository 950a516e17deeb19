"""Reports (报表): the weekly sales statistics report (GOV-8), generated each week and kept as history."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WeeklyReport(models.Model):
    """One manager's weekly sales statistics report (GOV-8) for the week starting on `week_start` (a Monday).

    The figures are computed once, when the week is over, and kept as they were (`data`), so the history
    reads the same later however the records change.
    """

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="weekly_reports", verbose_name=_("KA manager")
    )
    week_start = models.DateField(_("week starting"))
    generated_at = models.DateTimeField(_("generated at"), default=timezone.now)
    # Who it was sent to (the manager's supervisors at the time), as user ids.
    sent_to = models.JSONField(_("sent to"), default=list, blank=True)
    data = models.JSONField(_("figures"), default=dict)

    class Meta:
        ordering = ["-week_start", "manager"]
        verbose_name = _("weekly sales report")
        verbose_name_plural = _("weekly sales reports")
        constraints = [models.UniqueConstraint(fields=["manager", "week_start"], name="weekly_report_unique")]

    def __str__(self):
        return f"{self.manager} {self.week_start}"
