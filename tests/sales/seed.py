"""The default pipeline for tests (PIPE-1, PIPE-2).

The data migration seeds it, but a live-server (browser) test flushes every table when it ends, so the
tests that come after it in the same run would find no pipeline. They call the migration's own seed
again (it does nothing when the default pipeline exists): one definition of the default process.
"""

import importlib

from django.apps import apps


def ensure_default_pipeline() -> None:
    importlib.import_module("kam.sales.migrations.0002_default_pipeline").seed(apps, None)
