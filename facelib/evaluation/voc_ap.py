"""VOC average precision with the precision envelope (Everingham et al., VOC 2010+; the
``VOCap.m`` of the official WIDER FACE evaluation kit)."""
import numpy as np


def voc_ap(recall, precision):
    """Area under the PR curve after making precision monotonically non-increasing.

    Mirrors the official ``VOCap.m``: ``mrec = [0; rec; 1]``, ``mpre = [0; prec; 0]``, the envelope
    ``mpre(i) = max(mpre(i), mpre(i+1))`` from the end, then the sum of ``(mrec(i) - mrec(i-1)) * mpre(i)``
    over the points where recall changes.
    """
    rec = np.asarray(recall, dtype=np.float64).ravel()
    prec = np.asarray(precision, dtype=np.float64).ravel()
    if rec.shape != prec.shape:
        raise ValueError(f"recall and precision differ in length: {rec.shape} vs {prec.shape}")
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))
