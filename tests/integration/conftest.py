"""A real Celery worker (separate process) on Redis and the PostgreSQL test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import is_postgres, services_required

ROOT = Path(__file__).resolve().parents[2]


def _skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def broker_url():
    url = os.environ.get("NETVIZ_TEST_BROKER_URL", "")
    if not url.startswith("redis://"):
        _skip_or_fail("integration tests need Redis (NETVIZ_TEST_BROKER_URL=redis://...)")
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()  # a dedicated database number: stale test messages only
    yield url
    client.flushdb()


@pytest.fixture
def worker_env(transactional_db, broker_url, settings):
    if not is_postgres():
        _skip_or_fail("integration tests need PostgreSQL (DATABASE_URL=postgres://...)")
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "netviz_site.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "NETVIZ_TEST_BROKER_URL": broker_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env


class WorkerProcess:
    def __init__(self, env: dict, log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        handle = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "netviz_site",
                "worker",
                "-Q",
                "cpu",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"itest-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (no chance to ack or clean up)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


@pytest.fixture
def celery_worker_process(worker_env, tmp_path):
    workers: list[WorkerProcess] = []

    def make() -> WorkerProcess:
        worker = WorkerProcess(worker_env, tmp_path / f"worker{len(workers)}.log")
        workers.append(worker)
        worker.start()
        return worker

    yield make
    for worker in workers:
        worker.stop()


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, logs: Callable[[], str] = str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs()}")
