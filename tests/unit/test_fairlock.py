"""The SQLite writers' lock: one holder at a time, nobody left waiting, and a thread that has
waited its patience gets the lock before anyone who asks after it."""

from __future__ import annotations

import threading
import time

import pytest

from vidgate.store.fairlock import FairLock


def test_under_contention_one_thread_holds_it_at_a_time_and_every_thread_gets_it_every_time() -> None:
    lock, inside, most, rounds = FairLock(patience=0.001), [0], [0], [0]

    def worker() -> None:
        for n in range(300):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                if n % 7 == 0:
                    time.sleep(0.0005)  # some holders sleep, so others line up and time out their patience
                inside[0] -= 1
                rounds[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread was never woken"
    assert (most[0], rounds[0], lock.waiting) == (1, 8 * 300, 0)


@pytest.mark.parametrize("patience", [0.0, 0.005])
def test_threads_that_have_waited_their_patience_get_it_in_the_order_they_asked(patience: float) -> None:
    lock, order = FairLock(patience=patience), []

    def worker(n: int) -> None:
        with lock:
            order.append(n)

    threads = []
    with lock:
        for n in range(6):
            threads.append(threading.Thread(target=worker, args=(n,)))
            threads[-1].start()
            while lock.waiting < n + 1:
                time.sleep(0.001)
        time.sleep(patience * 2)
    for t in threads:
        t.join(10)
    assert order == list(range(6))


def test_asking_again_for_a_lock_the_thread_holds_is_an_error_not_a_wait_for_itself() -> None:
    lock = FairLock()
    with lock, pytest.raises(RuntimeError, match="holds"), lock:
        pass
    with lock:  # and it was let go
        pass
