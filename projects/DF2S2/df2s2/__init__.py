"""DF²S² (Tian et al., "Learning Better Features for Face Detection with Feature Fusion and
Segmentation Supervision").

* :mod:`.config`   -- ``MODEL.DF2S2.*`` keys (``add_df2s2_config``, registered on import);
* :mod:`.ffp`      -- the feature fusion pyramid and its F-block (Sec. 3.3, Eq. 1);
* :mod:`.backbone` -- ``build_df2s2_ffp_backbone`` (ResNet / MobileNetV1 + the pyramid).

Not built yet: the shared detection / segmentation head (Sec. 3.1-3.2), the segmentation targets
and Eq. 2's loss, the meta-architecture and configs.
"""
from .backbone import BOTTOM_UPS, build_df2s2_ffp_backbone
from .config import add_df2s2_config
from .ffp import FBlock, FeatureFusionPyramid

__all__ = ["add_df2s2_config", "FBlock", "FeatureFusionPyramid", "build_df2s2_ffp_backbone", "BOTTOM_UPS"]
