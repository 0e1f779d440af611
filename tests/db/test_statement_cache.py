"""The write path's caches (compiled statements, rule contexts: ``LockedLRU``) are shared by every thread of the
process (the API's thread pool, the scheduler, the dashboard): hammered from several threads, one never raises, stays
bounded and answers right."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fanbase.db.lru import LockedLRU
from fanbase.db.rule_sql import BatchStatement
from fanbase.db.tables import fans


def _statement(key: int) -> BatchStatement:
    relative: Mapping[str, timedelta] = {"t": timedelta(seconds=key)}
    return BatchStatement(statement=select(fans.c.id), relative_times=relative)


def test_a_cache_hammered_by_threads_never_raises_and_stays_bounded() -> None:
    cache: LockedLRU[int, BatchStatement] = LockedLRU(8)
    values = {key: _statement(key) for key in range(64)}
    errors: list[BaseException] = []
    wrong: list[Any] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            for _ in range(20_000):
                key = rng.randrange(64)
                found = cache.get(key)
                if found is None:
                    cache.put(key, values[key])
                elif found is not values[key]:
                    wrong.append((key, found))
        except BaseException as error:  # the old cache raised KeyError from move_to_end after another's eviction
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(8)]
    interval = sys.getswitchinterval()
    # Switch threads as often as the interpreter can, so the interleavings that broke the old cache happen here
    # (with it, this test saw KeyError in 7 of 8 threads).
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert wrong == []
    assert len(cache) <= 8
