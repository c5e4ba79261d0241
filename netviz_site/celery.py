"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netviz_site.settings.local")

app = Celery("netviz")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Every installed app's ``tasks`` module (explanations, processing, validation, game): imported
# when a worker starts; a web process enqueues by name (core.enqueue) and never imports them.
app.autodiscover_tasks()


@signals.import_modules.connect(sender=app)
def beat_schedule_folder_create(sender: Celery, **kwargs) -> None:
    """Beat keeps its schedule under var/ (CELERY_BEAT_SCHEDULE_FILENAME), which a fresh checkout
    lacks: create the folder when a worker or beat starts (before beat opens the file)."""
    Path(sender.conf.beat_schedule_filename).parent.mkdir(parents=True, exist_ok=True)
