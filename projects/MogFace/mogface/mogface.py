"""``MogFace`` (Liu et al., CVPR 2022) on facelib's :class:`FaceRetinaNet`.

* Ali-AMS (Sec. 3.1, Algorithm 1): ``refine_assignment`` adds positives to the faces with fewer
  anchors than the level's best-served face, chosen by the current forward pass's face scores
  (:mod:`.ali_ams`; ``MODEL.MOGFACE.ALI_AMS``). With it off the model is FaceRetinaNet.

Not built yet: HCAM (Sec. 3.3), the SSH context head / Pyramid Anchor / deeper head of Sec. 4.3.
SSE (Sec. 3.2) is a training augmentation (``INPUT.FACE_AUG``).
"""
import torch

from detectron2.config import configurable
from detectron2.modeling.meta_arch.build import META_ARCH_REGISTRY

from facelib.modeling.face_retinanet import FaceRetinaNet
from facelib.utils.events import put_scalar

from .ali_ams import CANDIDATE_MODES, DROP_POSITIVE_MODES, ali_ams
from .config import add_mogface_config  # noqa: F401  (registers MODEL.MOGFACE)

__all__ = ["MogFace"]


@META_ARCH_REGISTRY.register()
class MogFace(FaceRetinaNet):
    """FaceRetinaNet with MogFace's label assignment; see the module docstring."""

    @configurable
    def __init__(self, *, ali_ams_enabled: bool, ali_ams_candidates: str, ali_ams_drop_positives: str,
                 ali_ams_skip_levels, **kwargs):
        super().__init__(**kwargs)
        if ali_ams_candidates not in CANDIDATE_MODES:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.CANDIDATES must be one of {CANDIDATE_MODES}, "
                             f"got {ali_ams_candidates!r}")
        if ali_ams_drop_positives not in DROP_POSITIVE_MODES:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.DROP_POSITIVES must be one of {DROP_POSITIVE_MODES}, "
                             f"got {ali_ams_drop_positives!r}")
        unknown = [n for n in ali_ams_skip_levels if n not in self.head_in_features]
        if unknown:
            raise ValueError(f"MODEL.MOGFACE.ALI_AMS.SKIP_LEVELS {list(ali_ams_skip_levels)} names {unknown}, "
                             f"not in MODEL.RETINANET.IN_FEATURES {list(self.head_in_features)}")
        self.ali_ams_enabled = bool(ali_ams_enabled)
        self.ali_ams_candidates = ali_ams_candidates
        self.ali_ams_drop_positives = ali_ams_drop_positives
        self.ali_ams_skip = [list(self.head_in_features).index(n) for n in ali_ams_skip_levels]

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        ams = cfg.MODEL.MOGFACE.ALI_AMS
        ret.update(
            ali_ams_enabled=ams.ENABLED,
            ali_ams_candidates=ams.CANDIDATES,
            ali_ams_drop_positives=ams.DROP_POSITIVES,
            ali_ams_skip_levels=list(ams.SKIP_LEVELS),
        )
        return ret

    def refine_assignment(self, anchors, targets, matched_idxs, anchor_labels, predictions):
        """Ali-AMS on the matcher's result (training only; needs the current predictions)."""
        if not self.ali_ams_enabled or predictions is None or not self.training or len(targets) == 0:
            return matched_idxs, anchor_labels
        sizes = [int(x.shape[1]) for x in predictions.pred_logits]
        face_scores = predictions.scores.max(dim=1).values
        standard = torch.where(anchor_labels == 1, matched_idxs, torch.full_like(matched_idxs, -1))
        mined = ali_ams(standard, anchors.tensor, targets.gt_boxes.tensor, face_scores, sizes,
                        candidates=self.ali_ams_candidates, drop_positives=self.ali_ams_drop_positives,
                        skip_levels=self.ali_ams_skip)
        added = (mined >= 0) & (standard < 0)
        put_scalar("ali_ams_added_anchors", added.sum().item())
        return torch.where(added, mined, matched_idxs), torch.where(added, torch.ones_like(anchor_labels), anchor_labels)
