"""MogFace (Liu et al., "MogFace: Towards a Deeper Appreciation on Face Detection", CVPR 2022).

* :mod:`.config`  -- ``MODEL.MOGFACE.*`` keys (``add_mogface_config``, registered on import);
* :mod:`.ali_ams` -- Adaptive Online Incremental Anchor Mining (Sec. 3.1, Algorithm 1);
* :mod:`.sse`     -- Selective Scale Enhancement (Sec. 3.2, Algorithm 2), the augmentation ``"sse"``;
* :mod:`.mogface` -- ``MogFace``, a :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``.

Not built yet: HCAM (Sec. 3.3) and the final model's SSH head, Pyramid Anchor and deeper head.
"""
from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams
from .config import add_mogface_config
from .mogface import MogFace
from .sse import OTHER_LEVEL_MODES, SSE_SCALE_RANGES_CODE, SSE_SCALE_RANGES_PAPER, SelectiveScaleEnhancement, build_sse

__all__ = ["add_mogface_config", "ali_ams", "CANDIDATE_MODES", "DROP_POSITIVE_MODES", "MogFace",
           "SelectiveScaleEnhancement", "build_sse", "SSE_SCALE_RANGES_PAPER", "SSE_SCALE_RANGES_CODE", "OTHER_LEVEL_MODES"]
