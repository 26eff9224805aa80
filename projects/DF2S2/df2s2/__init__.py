"""DF²S² (Tian et al., "Learning Better Features for Face Detection with Feature Fusion and
Segmentation Supervision").

* :mod:`.config`   -- ``MODEL.DF2S2.*`` keys (``add_df2s2_config``, registered on import);
* :mod:`.ffp`      -- the feature fusion pyramid and its F-block (Sec. 3.3, Eq. 1);
* :mod:`.backbone` -- ``build_df2s2_ffp_backbone`` (ResNet / MobileNetV1 + the pyramid);
* :mod:`.head`     -- ``DF2S2Head``, the tower shared by the class, box and segmentation outputs
  (Sec. 3.1-3.2);
* :mod:`.df2s2`    -- ``DF2S2``, a :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``
  (Eq. 2's losses; segmentation targets from :mod:`facelib.modeling.level_box_masks`).
"""
from .backbone import BOTTOM_UPS, build_df2s2_ffp_backbone
from .config import add_df2s2_config
from .df2s2 import DF2S2
from .ffp import FBlock, FeatureFusionPyramid
from .head import HEAD_INITS, DF2S2Head

__all__ = ["add_df2s2_config", "DF2S2", "DF2S2Head", "HEAD_INITS", "FBlock", "FeatureFusionPyramid", "build_df2s2_ffp_backbone", "BOTTOM_UPS"]
