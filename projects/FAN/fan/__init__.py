"""FAN: Face Attention Network (Wang, Yuan, Yu 2017, "Face Attention Network: An Effective Face
Detector for the Occluded Faces", arXiv 1711.07246).

* :mod:`.config`    -- ``MODEL.FAN.*`` keys (``add_fan_config``, registered on import);
* :mod:`.anchors`   -- the three anchor settings of Table 1 ("retinanet", "fan", "dense");
* :mod:`.attention` -- the anchor-level attention branch (Sec. 3.2.2); its targets / loss are
  :mod:`facelib.modeling.level_box_masks`;
* :mod:`.fan`       -- ``FAN``, a :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``.
"""
from .anchors import (
    ANCHOR_SETTINGS,
    anchor_setting,
    apply_anchor_setting,
    dense_anchor_setting,
    fan_anchor_setting,
    retinanet_anchor_setting,
)
from .attention import AttentionBranch, apply_attention
from .config import add_fan_config
from .fan import FAN, FANHead

__all__ = [
    "add_fan_config",
    "ANCHOR_SETTINGS",
    "anchor_setting",
    "apply_anchor_setting",
    "retinanet_anchor_setting",
    "fan_anchor_setting",
    "dense_anchor_setting",
    "AttentionBranch",
    "apply_attention",
    "FAN",
    "FANHead",
]
