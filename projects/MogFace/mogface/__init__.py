"""MogFace (Liu et al., "MogFace: Towards a Deeper Appreciation on Face Detection", CVPR 2022).

* :mod:`.ali_ams` -- Adaptive Online Incremental Anchor Mining (Sec. 3.1, Algorithm 1).

The meta-architecture (baseline, HCAM, SSE wiring) is not built yet.
"""
from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams

__all__ = ["ali_ams", "CANDIDATE_MODES", "DROP_POSITIVE_MODES"]
