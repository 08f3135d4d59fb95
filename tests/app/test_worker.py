"""The worker abstraction: generator events as signals, cancel between yields, callbacks."""

from __future__ import annotations

import threading
import time

from app.worker import Jobs
from tests.app.conftest import WAIT_MS


def test_a_fast_job_never_loses_its_result_to_a_late_connection(qtbot):
    jobs = Jobs()
    got = []
    for n in range(20):
        job = jobs.start(lambda n=n: n)
        time.sleep(0.002)  # the job would be long done before we connect, if it had started
        job.signals.result.connect(got.append)
    qtbot.waitUntil(lambda: len(got) == 20, timeout=WAIT_MS)
    assert sorted(got) == list(range(20))
    jobs.shutdown()


def test_generator_events_arrive_in_order_and_cancel_stops_between_yields(qtbot):
    jobs = Jobs()
    release = threading.Event()

    def count(cancel: threading.Event):
        for i in range(1000):
            if cancel.is_set():
                return
            yield i
            if i == 2:
                release.wait(5)

    events = []
    job = jobs.start(count)
    job.signals.progress.connect(events.append)
    qtbot.waitUntil(lambda: len(events) == 3, timeout=WAIT_MS)
    with qtbot.waitSignal(job.signals.finished, timeout=5000):
        job.cancel()
        release.set()
    assert events[:3] == [0, 1, 2] and len(events) < 10


def test_a_report_callback_becomes_progress_and_errors_become_messages(qtbot):
    jobs = Jobs()

    def download(report) -> str:
        for done in (10, 20, 30):
            report((done, 30))
        return "loaded"

    events, results = [], []
    job = jobs.start(download)
    job.signals.progress.connect(events.append)
    job.signals.result.connect(results.append)
    qtbot.waitSignal(job.signals.finished, timeout=5000).wait()
    assert events == [(10, 30), (20, 30), (30, 30)] and results == ["loaded"]

    def broken() -> None:
        raise ValueError("the folder vanished")

    errors = []
    failing = jobs.start(broken)
    failing.signals.error.connect(errors.append)
    qtbot.waitSignal(failing.signals.finished, timeout=5000).wait()
    assert errors == ["the folder vanished"]
    jobs.shutdown()
