"""Fixtures for engagement tests: activities and tasks made through the services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kam.engagement import services


@pytest.fixture
def make_activity():
    def make(account, actor=None, **fields):
        fields.setdefault("happened_at", timezone.now() - timedelta(hours=1))
        return services.activity_create(actor=actor or account.owner, account=account, fields=fields)

    return make


@pytest.fixture
def make_task():
    def make(actor, title="回访客户", due_at=None, **fields):
        fields = {"title": title, "due_at": due_at or timezone.now() + timedelta(days=1), **fields}
        return services.task_create(actor=actor, fields=fields)

    return make
