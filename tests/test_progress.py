"""logged_progress: periodic INFO lines with count, percentage and ETA; a final line for long loops."""
import logging

from facelib.utils import progress as P


def test_lines_every_period_and_at_the_end(caplog, monkeypatch):
    clock = iter([0.0] + [float(t) for t in range(1, 100)])  # start, then one second per item
    monkeypatch.setattr(P.time, "perf_counter", lambda: next(clock))
    log = logging.getLogger("facelib.test_progress")
    with caplog.at_level(logging.INFO, logger="facelib.test_progress"):
        assert list(P.logged_progress(range(10), desc="work", logger=log, every_s=4, unit="images")) == list(range(10))
    lines = [r.getMessage() for r in caplog.records if r.name == "facelib.test_progress"]
    # items end at t = 1..10: lines at 4 and 8 s, then the final one (10 s >= 4 s)
    assert lines == ["work: 4/10 images (40 %), 1.0 images/s, ETA 6 s",
                     "work: 8/10 images (80 %), 1.0 images/s, ETA 2 s",
                     "work: done, 10 images in 11 s"]


def test_quiet_for_short_loops_and_unknown_length(caplog):
    log = logging.getLogger("facelib.test_progress")
    with caplog.at_level(logging.INFO, logger="facelib.test_progress"):
        assert list(P.logged_progress((i for i in range(3)), logger=log, every_s=60)) == [0, 1, 2]
    assert not [r for r in caplog.records if r.name == "facelib.test_progress"]
