"""Progress of long loops as log lines (no terminal control codes, so ``log.txt`` and CI logs stay
readable): :func:`logged_progress` wraps an iterable and logs ``<desc>: i/N (p %), <rate>/s, ETA``
at INFO at most every ``every_s`` seconds, and once at the end when the loop took longer than that."""
import logging
import time
from typing import Iterable, Iterator, Optional, TypeVar

__all__ = ["logged_progress"]

T = TypeVar("T")


def logged_progress(iterable: Iterable[T], total: Optional[int] = None, desc: str = "progress",
                    logger: Optional[logging.Logger] = None, every_s: float = 10.0, unit: str = "it") -> Iterator[T]:
    logger = logger or logging.getLogger("facelib")
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    start = last = time.perf_counter()
    n = 0
    for item in iterable:
        yield item
        n += 1
        now = time.perf_counter()
        if now - last >= every_s:
            last = now
            rate = n / max(now - start, 1e-9)
            if total:
                eta = (total - n) / rate if rate > 0 else float("inf")
                logger.info("%s: %d/%d %s (%.0f %%), %.1f %s/s, ETA %.0f s", desc, n, total, unit,
                            100.0 * n / total, rate, unit, eta)
            else:
                logger.info("%s: %d %s, %.1f %s/s", desc, n, unit, rate, unit)
    elapsed = time.perf_counter() - start
    if elapsed >= every_s:
        logger.info("%s: done, %d %s in %.0f s", desc, n, unit, elapsed)
