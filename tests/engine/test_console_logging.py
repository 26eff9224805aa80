"""The console stays at INFO (the mapper's per-image DEBUG lines go to log.txt only), and the
training loader wrapper logs a periodic summary of the faces the augmentation dropped."""
import logging

import pytest

from facelib.engine.console_logging import setup_facelib_logger
from facelib.engine.trainer import DroppedFaceCounter


@pytest.fixture
def clean_facelib_logger():
    logger = logging.getLogger("facelib")
    before = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    for h in logger.handlers:
        if h not in before[0]:
            h.close()
    logger.handlers, logger.level, logger.propagate = before[0], before[1], before[2]


def test_debug_lines_reach_the_log_file_not_the_console(tmp_path, capsys, clean_facelib_logger):
    setup_facelib_logger(str(tmp_path))
    mapper_logger = logging.getLogger("facelib.data.mapper")
    mapper_logger.debug("img_7.jpg: dropped 3 of 5 faces after augmentation")
    mapper_logger.info("augmentations used in training: ...")
    for h in clean_facelib_logger.handlers:
        h.flush()
    console = capsys.readouterr().out
    assert "augmentations used in training" in console
    assert "dropped 3 of 5" not in console
    log = (tmp_path / "log.txt").read_text()
    assert "dropped 3 of 5" in log and "augmentations used in training" in log


def test_dropped_faces_summary_every_period(caplog):
    batches = [[{"num_dropped_faces": 2, "num_annotated_faces": 5, "dropped_face_reasons": {"outside": 2}},
                {"num_dropped_faces": 1, "num_annotated_faces": 3, "dropped_face_reasons": {"too_small": 1}}],
               [{"num_dropped_faces": 0, "num_annotated_faces": 4, "dropped_face_reasons": {}}],
               [{"num_dropped_faces": 4, "num_annotated_faces": 4, "dropped_face_reasons": {"outside": 4}}]]
    counter = DroppedFaceCounter(batches, log_period=2)
    with caplog.at_level(logging.INFO, logger="facelib.engine.trainer"):
        assert list(counter) == batches
    lines = [r.getMessage() for r in caplog.records if r.name == "facelib.engine.trainer"]
    # one line after batches 1-2 (3 of 12 dropped); the third batch opens a window that never closes
    assert lines == ["Augmentation dropped 3 of 12 faces in the last 2 batches (outside 2, too_small 1); "
                     "3 since the start"]
    assert counter.total == 7
    with pytest.raises(ValueError, match="log_period"):
        DroppedFaceCounter(batches, log_period=-1)
