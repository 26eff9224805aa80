"""MogFace (Liu et al., "MogFace: Towards a Deeper Appreciation on Face Detection", CVPR 2022).

* :mod:`.config`  -- ``MODEL.MOGFACE.*`` keys (``add_mogface_config``, registered on import);
* :mod:`.ali_ams` -- Adaptive Online Incremental Anchor Mining (Sec. 3.1, Algorithm 1);
* :mod:`.atss`    -- ATSS assignment (Table 3's comparison);
* :mod:`.hcam`    -- Hierarchical Context-Aware Module (Sec. 3.3, Eq. 1);
* :mod:`.ssh_head` -- the SSH context head of the final model (Sec. 4.3);
* :mod:`.sfd_head` -- the ablation baseline's S3FD head, per-level 3x3 convs (Sec. 4.1);
* :mod:`.sse`     -- Selective Scale Enhancement (Sec. 3.2, Algorithm 2), the augmentation ``"sse"``;
* :mod:`.mogface` -- ``MogFace``, a :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``.
* :mod:`.pyramid_anchor` -- Pyramid Anchor's context tasks (PyramidBox; the final model, Sec. 4.3);
"""
from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams
from .atss import atss_assign
from .config import add_mogface_config
from .hcam import HCAM, dynamic_labels, high_confidence_maps
from .mogface import ASSIGNERS, HCAM_TEST_SCORES, MogFace
from .pyramid_anchor import PyramidAnchorPredictor, context_boxes
from .sfd_head import SFDHead
from .ssh_head import MogFaceHead, SSHContext
from .sse import OTHER_LEVEL_MODES, SSE_SCALE_RANGES_CODE, SSE_SCALE_RANGES_PAPER, SelectiveScaleEnhancement, build_sse

__all__ = ["add_mogface_config", "HCAM", "dynamic_labels", "high_confidence_maps", "HCAM_TEST_SCORES", "ali_ams", "atss_assign", "ASSIGNERS", "CANDIDATE_MODES", "DROP_POSITIVE_MODES", "MogFace", "MogFaceHead", "SSHContext", "SFDHead", "PyramidAnchorPredictor", "context_boxes",
           "SelectiveScaleEnhancement", "build_sse", "SSE_SCALE_RANGES_PAPER", "SSE_SCALE_RANGES_CODE", "OTHER_LEVEL_MODES"]
