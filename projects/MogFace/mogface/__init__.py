"""MogFace (Liu et al., "MogFace: Towards a Deeper Appreciation on Face Detection", CVPR 2022).

* :mod:`.config`  -- ``MODEL.MOGFACE.*`` keys (``add_mogface_config``, registered on import);
* :mod:`.ali_ams` -- Adaptive Online Incremental Anchor Mining (Sec. 3.1, Algorithm 1);
* :mod:`.mogface` -- ``MogFace``, a :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``.

Not built yet: HCAM (Sec. 3.3) and the final model's SSH head, Pyramid Anchor and deeper head.
"""
from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams
from .config import add_mogface_config
from .mogface import MogFace

__all__ = ["add_mogface_config", "ali_ams", "CANDIDATE_MODES", "DROP_POSITIVE_MODES", "MogFace"]
