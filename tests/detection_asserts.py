"""Comparison of two detectors' outputs as sets: NMS (``batched_nms``'s offset trick, different
batch sizes' last-bit differences) may order detections of (nearly) tied scores differently."""
from typing import Dict, List


def detections_of(instances) -> Dict[str, List]:
    """``{"boxes", "scores", "classes"}`` lists of an ``Instances`` of predictions."""
    return {
        "boxes": instances.pred_boxes.tensor.tolist(),
        "scores": instances.scores.tolist(),
        "classes": instances.pred_classes.tolist(),
    }


def assert_same_detections(got, want, box_atol: float = 1e-4, score_atol: float = 1e-5) -> None:
    """Every detection of ``want`` has its own detection in ``got`` of the same class, score
    within ``score_atol`` and box within ``box_atol`` px (``Instances`` or :func:`detections_of`
    dicts)."""
    got = got if isinstance(got, dict) else detections_of(got)
    want = want if isinstance(want, dict) else detections_of(want)
    assert len(got["scores"]) == len(want["scores"]), (len(got["scores"]), len(want["scores"]))
    unused = list(range(len(got["scores"])))
    for box, score, cls in zip(want["boxes"], want["scores"], want["classes"]):
        hit = next(
            (
                j for j in unused
                if abs(got["scores"][j] - score) <= score_atol
                and got["classes"][j] == cls
                and all(abs(a - b) <= box_atol for a, b in zip(got["boxes"][j], box))
            ),
            None,
        )
        assert hit is not None, f"no detection matches {box} score {score}"
        unused.remove(hit)
