"""Dense-detector losses computed per pyramid level and normalised per level, as FAN's Eq. 1
(Sec. 3.3) and DF2S2's Eq. 2 (Sec. 3.4) write them::

    sum_k 1/N_k^c sum_{i in A_k} L_c(p_i, p_i*)  +  lambda1 sum_k 1/N_k^r sum_{i in A_k} I(p_i*) L_r(t_i, t_i*)

L_c = sigmoid focal loss, L_r = the model's box loss, N_k^r = the positive anchors of level k (a
level without positives adds no regression loss), counts over the whole batch, no EMA. N_k^c is
"the number of anchors in P_k which participate in the classification loss computation"
(positives + negatives; ignored anchors do not). The classification normaliser is a choice
(:data:`CLS_LOSS_NORMALIZERS`):

* ``"anchors"``: N_k^c as written. A focal loss divided by all participating anchors is about a
  hundred times weaker than RetinaNet's and a model trained so does not learn to classify (FAN on
  the face-mask data: AP 1.4 / 1.3 after 3000 iterations against 81.5 / 85.1, docs/results.md);
* ``"positives"``: RetinaNet's rule (Lin et al. Sec. 4.1), all levels' focal loss divided by all
  positives; the regression term stays per level;
* ``"retinanet"``: the model's own ``FaceRetinaNet.losses`` unchanged (both terms over all levels
  divided by an EMA of the positives), so that a method with its modules off is the baseline.
"""
from typing import Dict

import torch
from torch import Tensor

from .anchor_sets import level_sizes

__all__ = ["CLS_LOSS_NORMALIZERS", "per_level_losses"]

CLS_LOSS_NORMALIZERS = ("anchors", "positives", "retinanet")


def per_level_losses(model, ctx, cls_normalizer: str) -> Dict[str, Tensor]:
    """``{"loss_cls", "loss_box_reg"}`` of a :class:`~facelib.modeling.FaceRetinaNet` batch
    (``ctx``: its :class:`~facelib.modeling.dense_outputs.LossContext`), each times the model's
    weight (``loss_cls_weight``, ``loss_box_reg_weight`` = lambda1)."""
    if cls_normalizer not in CLS_LOSS_NORMALIZERS:
        raise ValueError(f"classification loss normaliser must be one of {CLS_LOSS_NORMALIZERS}, got {cls_normalizer!r}")
    if cls_normalizer == "retinanet":
        from .face_retinanet import FaceRetinaNet

        return FaceRetinaNet.losses(model, ctx)
    pred_logits, pred_anchor_deltas, gt_boxes = ctx.pred_logits, ctx.pred_deltas, ctx.gt_boxes
    gt_labels = torch.stack(ctx.gt_labels)  # (N, R)
    valid_mask, pos_mask = model.log_assignment(gt_labels)

    loss_cls = pred_logits[0].sum() * 0.0
    loss_box_reg = pred_anchor_deltas[0].sum() * 0.0
    start = 0
    for k, (anchors_k, size_k) in enumerate(zip(ctx.anchors, level_sizes(ctx.anchors))):
        sl = slice(start, start + size_k)
        start = sl.stop
        valid_k, pos_k = valid_mask[:, sl], pos_mask[:, sl]
        cls_k = model.classification_loss([pred_logits[k]], gt_labels[:, sl], valid_k)
        if cls_normalizer == "anchors":
            cls_k = cls_k / max(valid_k.sum().item(), 1)
        loss_cls = loss_cls + cls_k
        num_pos_k = pos_k.sum().item()
        if num_pos_k > 0:
            reg_k = model.box_regression_loss([anchors_k], [pred_anchor_deltas[k]], [b[sl] for b in gt_boxes], pos_k)
            loss_box_reg = loss_box_reg + reg_k / num_pos_k
    if cls_normalizer == "positives":
        loss_cls = loss_cls / max(pos_mask.sum().item(), 1)
    return {
        "loss_cls": model.loss_cls_weight * loss_cls,
        "loss_box_reg": model.loss_box_reg_weight * loss_box_reg,
    }
