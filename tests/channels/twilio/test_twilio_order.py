"""In-process wake-ups of the arrival-order wait (bot/channels/twilio/order.py)."""

from __future__ import annotations

import threading
import time

from bot.channels.twilio.order import Finished


def test_a_notification_wakes_the_watcher_of_that_patient_at_once() -> None:
    finished = Finished()
    woke: list[float] = []

    def waiter() -> None:
        with finished.watch("patient-a") as watch:
            start = time.monotonic()
            watch.wait(5)
            woke.append(time.monotonic() - start)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)
    finished.notify("patient-a")
    thread.join(2)
    assert woke and woke[0] < 1.0


def test_a_notification_between_check_and_wait_is_not_missed() -> None:
    finished = Finished()
    with finished.watch("patient-a") as watch:
        finished.notify("patient-a")  # the earlier message finished right after the database check
        start = time.monotonic()
        watch.wait(5)
        assert time.monotonic() - start < 0.5
        start = time.monotonic()
        watch.wait(0.05)  # re-armed: no second notification, so this one times out
        assert time.monotonic() - start >= 0.04


def test_another_patients_notification_does_not_wake_and_watchers_are_dropped() -> None:
    finished = Finished()
    with finished.watch("patient-a") as watch:
        finished.notify("patient-b")
        start = time.monotonic()
        watch.wait(0.05)
        assert time.monotonic() - start >= 0.04
    assert finished._watchers == {}
