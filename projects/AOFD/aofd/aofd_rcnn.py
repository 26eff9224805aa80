"""AOFD = Faster R-CNN (VGG16) + adversarial RoI masks + occlusion segmentation.

* :class:`AOFDROIHeads` (``ROI_HEADS_REGISTRY``), a :class:`StandardROIHeads` that, while training
  the DETECTOR, masks the positive RoIs' pooled 7x7 features (Sec. 3.3): each positive RoI gets one
  mask type drawn uniformly from ``MODEL.AOFD.MASK_TYPES`` (generator mask with the lowest third
  dropped, a random half, random half of the positions), and the masked copies are added to the
  RoI batch next to the unmasked originals (``KEEP_UNMASKED``) or replace them. The generator is
  run under ``no_grad`` there (its mask is a constant for the detector); ``masks_on`` False (a
  schedule stage's ``MASKS``, e.g. the Faster R-CNN pretraining) skips the masks. With
  ``MODEL.AOFD.OHEM`` the RoI batch is chosen by online hard example mining (ohem.py) before the
  masks are applied.
  While training the GENERATOR it returns only ``loss_generator`` = L_g (Eq. 2)
  ``= GAMMA * L_com - ETA * L_c`` with L_c the box classifier's cross entropy on the generator-
  masked positive RoIs (lowest quarter dropped) and L_com the compactness loss (Eq. 3): minimising
  L_g maximises the detector's classification loss on the masked RoIs while keeping the dropped
  region compact. Only the generator receives gradient: the pooled features are computed under
  ``no_grad`` and the box head / predictor parameters are excluded from the graph.
* :class:`AOFD` (``META_ARCH_REGISTRY``), a :class:`GeneralizedRCNN` with the occlusion
  segmentation branch (Sec. 3.4) on ``MODEL.AOFD.SEG_IN_FEATURE`` and a ``training_stage``
  attribute, "detector" (default) or "generator", deciding which losses are returned:

  ========== ===================================================================================
  stage      losses (gradients)
  ========== ===================================================================================
  detector   loss_rpn_cls, loss_rpn_loc, loss_cls, loss_box_reg, loss_occlusion_seg
             (backbone, RPN, box head, segmentation branch; never the generator)
  generator  loss_generator (the mask generator only; backbone / RPN / box head frozen)
  ========== ===================================================================================

  Which stage trains when (Sec. 4.1's order, or alternating them) is the trainer's job
  (trainer.py / schedule.py), not part of this module.
  At inference the outputs carry ``instances.pred_occlusion_masks`` (N, 1, M, M), box-relative
  occluded-class probabilities over each regressed box (detectron2's mask-head format, which
  :mod:`facelib.api` and ``tools/demo.py`` paste into ``pred_boxes``), and the image-level
  ``occlusion_mask`` (height x width occluded-class probability; the per-image key facelib.api
  reads).
"""
import contextlib
from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn import functional as F

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, ROI_HEADS_REGISTRY
from detectron2.modeling.meta_arch.rcnn import GeneralizedRCNN
from detectron2.modeling.roi_heads import StandardROIHeads
from detectron2.structures import Instances
from detectron2.utils.events import get_event_storage

from facelib.modeling.float32_pooler import Float32Pooler

from .compact_loss import compact_loss
from .config import COMPACT_LOSS_REDUCTIONS, GENERATOR_GRAD_MODES, MASK_TYPES, SEG_LOSS_REDUCTIONS
from .ohem import per_roi_losses, select_hard_rois
from .mask_generator import MaskGenerator, binarize, half_masks, random_masks
from .occlusion_seg import (
    OcclusionSegHead,
    crop_occlusion_masks,
    occlusion_seg_loss,
    occlusion_seg_targets,
)

__all__ = ["AOFDROIHeads", "AOFD", "TRAINING_STAGES"]

TRAINING_STAGES = ("detector", "generator")


@contextlib.contextmanager
def _params_excluded_from_graph(*modules: nn.Module):
    """Temporarily set ``requires_grad=False`` on the modules' trainable parameters, so that the
    graph built inside the block does not reach them (they get no ``.grad`` from its backward)."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _put_scalar(name, value):
    try:
        get_event_storage().put_scalar(
            name, float(value.detach()) if torch.is_tensor(value) else float(value))
    except AssertionError:  # no EventStorage (plain forward outside a trainer)
        pass


@ROI_HEADS_REGISTRY.register()
class AOFDROIHeads(StandardROIHeads):
    """StandardROIHeads + AOFD's RoI masks and the generator stage (module docstring)."""

    @configurable
    def __init__(self, *, mask_generator: Optional[nn.Module] = None, mask_types=MASK_TYPES,
                 keep_unmasked: bool = True, drop_fraction_train_g: float = 0.25,
                 drop_fraction_train_d: float = 1.0 / 3.0, gamma: float = 1e-6, eta: float = 1.0,
                 straight_through: bool = True, ohem: bool = False,
                 ohem_batch_size_per_image: int = 128, ohem_nms_thresh: float = 0.7,
                 compact_loss_reduction: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if compact_loss_reduction not in COMPACT_LOSS_REDUCTIONS:
            raise ValueError(f"MODEL.AOFD.COMPACT_LOSS_REDUCTION must be one of {COMPACT_LOSS_REDUCTIONS}, "
                             f"got {compact_loss_reduction!r}")
        self.compact_loss_reduction = compact_loss_reduction
        # detector iterations mask the positive RoIs (False: plain Faster R-CNN, e.g. pretraining)
        self.masks_on = True
        self.ohem = ohem
        self.ohem_batch_size_per_image = ohem_batch_size_per_image
        self.ohem_nms_thresh = ohem_nms_thresh
        self.mask_generator = mask_generator
        unknown = set(mask_types) - set(MASK_TYPES)
        if unknown:
            raise ValueError(f"unknown MODEL.AOFD.MASK_TYPES {sorted(unknown)}; known {MASK_TYPES}")
        if "generator" in mask_types and mask_generator is None:
            raise ValueError('mask type "generator" needs the mask generator (GENERATOR_ON)')
        self.mask_types = list(mask_types)
        self.keep_unmasked = keep_unmasked
        self.drop_fraction_train_g = drop_fraction_train_g
        self.drop_fraction_train_d = drop_fraction_train_d
        self.gamma, self.eta = gamma, eta
        self.straight_through = straight_through
        self.training_stage = "detector"
        self.last_generator_terms: Dict[str, torch.Tensor] = {}
        self.last_mask_types: Optional[torch.Tensor] = None

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        a = cfg.MODEL.AOFD
        if a.OHEM:
            if cfg.MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_TYPE != "smooth_l1":
                raise ValueError("MODEL.AOFD.OHEM ranks RoIs by a smooth-L1 box loss: it needs "
                                 "MODEL.ROI_BOX_HEAD.BBOX_REG_LOSS_TYPE 'smooth_l1'")
            # every proposal is labelled and scored; OHEM picks the batch (ohem.py)
            ret["batch_size_per_image"] = 1 << 30
            ret["positive_fraction"] = 1.0
        if a.GENERATOR_GRAD not in GENERATOR_GRAD_MODES:
            raise ValueError(f"MODEL.AOFD.GENERATOR_GRAD must be one of {GENERATOR_GRAD_MODES}")
        if ret.get("train_on_pred_boxes"):
            raise ValueError("AOFDROIHeads does not support MODEL.ROI_BOX_HEAD.TRAIN_ON_PRED_BOXES")
        types = list(a.MASK_TYPES)
        generator = None
        if a.GENERATOR_ON:
            in_channels = {input_shape[f].channels for f in ret["box_in_features"]}
            assert len(in_channels) == 1, in_channels
            generator = MaskGenerator(in_channels.pop(), a.GENERATOR_CHANNELS,
                                      a.GENERATOR_NUM_CONVS, a.GENERATOR_STRAIGHT_MAPPING)
        else:
            types = [t for t in types if t != "generator"]
        # RoIPool (VGG16 Faster R-CNN) has no CPU autocast rule in torchvision: pool in float32
        ret["box_pooler"] = Float32Pooler(ret["box_pooler"])
        ret.update(
            mask_generator=generator,
            mask_types=types,
            keep_unmasked=a.KEEP_UNMASKED,
            drop_fraction_train_g=a.GENERATOR_DROP_FRACTION_TRAIN_G,
            drop_fraction_train_d=a.GENERATOR_DROP_FRACTION_TRAIN_D,
            gamma=a.GAMMA,
            eta=a.ETA,
            straight_through=a.GENERATOR_GRAD == "straight_through",
            ohem=a.OHEM,
            ohem_batch_size_per_image=a.OHEM_BATCH_SIZE_PER_IMAGE,
            ohem_nms_thresh=a.OHEM_NMS_THRESH,
            compact_loss_reduction=a.COMPACT_LOSS_REDUCTION,
        )
        return ret

    # ------------------------------------------------------------------ helpers
    def _positives(self, proposals: List[Instances]):
        gt = torch.cat([p.gt_classes for p in proposals]) if proposals else torch.empty(0)
        pos = ((gt >= 0) & (gt < self.num_classes)).nonzero().squeeze(1)
        return pos, gt

    def _apply_masks(self, pooled: torch.Tensor, proposals: List[Instances]):
        """Mask the positive RoIs' pooled features (detector stage)."""
        pos, _ = self._positives(proposals)
        if not len(pos) or not self.mask_types or not self.masks_on:
            self.last_mask_types = None
            return pooled, proposals
        fp = pooled[pos]
        n, _, h, w = fp.shape
        types = torch.randint(len(self.mask_types), (n,))
        masks = fp.new_ones(n, 1, h, w)
        for ti, t in enumerate(self.mask_types):
            sel = (types == ti).nonzero().squeeze(1)
            if not len(sel):
                continue
            if t == "generator":
                with torch.no_grad():  # a constant for the detector
                    m = binarize(self.mask_generator(fp[sel].detach()),
                                 self.drop_fraction_train_d, straight_through=False)
            elif t == "half":
                m = half_masks(len(sel), h, w, device=fp.device)
            else:
                m = random_masks(len(sel), h, w, device=fp.device)
            masks[sel.to(fp.device)] = m.to(masks.dtype)
        self.last_mask_types = types
        masked = fp * masks
        if not self.keep_unmasked:
            out = pooled.clone()
            out[pos] = masked
            return out, proposals
        # Masked copies appended after the originals, image by image (pos is sorted), each with
        # its RoI's targets.
        extra, start = [], 0
        for p in proposals:
            local = pos[(pos >= start) & (pos < start + len(p))] - start
            extra.append(p[local])
            start += len(p)
        return torch.cat([pooled, masked]), list(proposals) + extra

    # ------------------------------------------------------------------ stages
    def forward(self, images, features, proposals, targets=None):
        if self.training_stage not in TRAINING_STAGES:
            raise ValueError(f"training_stage must be one of {TRAINING_STAGES}, "
                             f"got {self.training_stage!r}")
        if self.training and self.training_stage == "generator":
            assert targets, "'targets' argument is required during training"
            proposals = self.label_and_sample_proposals(proposals, targets)
            return proposals, self._generator_losses(features, proposals)
        return super().forward(images, features, proposals, targets)

    def _forward_box(self, features: Dict[str, torch.Tensor], proposals: List[Instances]):
        if not self.training:
            return super()._forward_box(features, proposals)
        feats = [features[f] for f in self.box_in_features]
        if self.ohem:
            proposals = self._hard_examples(feats, proposals)
        pooled = self.box_pooler(feats, [x.proposal_boxes for x in proposals])
        pooled, used = self._apply_masks(pooled, proposals)
        predictions = self.box_predictor(self.box_head(pooled))
        return self.box_predictor.losses(predictions, used)

    def _hard_examples(self, feats, proposals: List[Instances]) -> List[Instances]:
        """OHEM (ohem.py): the hardest RoIs of every image under the current box head."""
        with torch.no_grad():
            pooled = self.box_pooler(feats, [x.proposal_boxes for x in proposals])
            losses = per_roi_losses(self.box_predictor,
                                    self.box_predictor(self.box_head(pooled)), proposals)
        keep = select_hard_rois(proposals, losses, self.ohem_batch_size_per_image,
                                self.ohem_nms_thresh)
        hard = [p[k] for p, k in zip(proposals, keep)]
        _put_scalar("roi_head/ohem_num_fg", sum(
            ((h.gt_classes >= 0) & (h.gt_classes < self.num_classes)).sum() for h in hard))
        return hard

    def _generator_losses(self, features, proposals):
        """L_g (Eq. 2) on the generator-masked positive RoIs; only the generator gets gradient."""
        if self.mask_generator is None:
            raise RuntimeError("training_stage 'generator' needs MODEL.AOFD.GENERATOR_ON")
        feats = [features[f] for f in self.box_in_features]
        with torch.no_grad():
            pooled = self.box_pooler(feats, [x.proposal_boxes for x in proposals])
        pos, gt = self._positives(proposals)
        fp = pooled[pos].detach()
        if not len(pos):
            zero = sum(p.sum() for p in self.mask_generator.parameters()) * 0.0
            self.last_generator_terms = {"loss_cls_masked": zero.detach(),
                                         "loss_compact": zero.detach()}
            return {"loss_generator": zero}
        scores = self.mask_generator(fp)
        mask = binarize(scores, self.drop_fraction_train_g, self.straight_through)
        with _params_excluded_from_graph(self.box_head, self.box_predictor):
            cls_scores, _ = self.box_predictor(self.box_head(fp * mask))
        l_c = F.cross_entropy(cls_scores, gt[pos])
        l_com = compact_loss(mask, self.compact_loss_reduction, num_channels=fp.shape[1])
        self.last_generator_terms = {"loss_cls_masked": l_c, "loss_compact": l_com}
        _put_scalar("aofd/loss_cls_masked", l_c)
        _put_scalar("aofd/loss_compact", l_com)
        return {"loss_generator": self.gamma * l_com - self.eta * l_c}


@META_ARCH_REGISTRY.register()
class AOFD(GeneralizedRCNN):
    """Faster R-CNN + AOFD RoI heads + occlusion segmentation (module docstring)."""

    @configurable
    def __init__(self, *, seg_head: Optional[nn.Module] = None, seg_in_feature: str = "vgg_conv5",
                 seg_stride: int = 16, seg_loss_weight: float = 1e-5, seg_loss_reduction: str = "sum",
                 seg_box_enlarge: float = 1.3,
                 seg_mask_size: int = 14, **kwargs):
        super().__init__(**kwargs)
        self.seg_head = seg_head
        self.seg_in_feature = seg_in_feature
        self.seg_stride = seg_stride
        self.seg_loss_weight = seg_loss_weight
        if seg_loss_reduction not in SEG_LOSS_REDUCTIONS:
            raise ValueError(f"MODEL.AOFD.SEG_LOSS_REDUCTION must be one of {SEG_LOSS_REDUCTIONS}, "
                             f"got {seg_loss_reduction!r}")
        self.seg_loss_reduction = seg_loss_reduction
        self.seg_box_enlarge = seg_box_enlarge
        self.seg_mask_size = seg_mask_size
        self._training_stage = "detector"

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        a = cfg.MODEL.AOFD
        shape = ret["backbone"].output_shape()
        if a.SEG_IN_FEATURE not in shape:
            raise ValueError(f"MODEL.AOFD.SEG_IN_FEATURE {a.SEG_IN_FEATURE!r} is not a backbone "
                             f"output ({sorted(shape)})")
        spec = shape[a.SEG_IN_FEATURE]
        ret.update(
            seg_head=OcclusionSegHead(spec.channels, a.SEG_CHANNELS, a.SEG_NUM_CONVS)
            if a.SEGMENTATION_ON else None,
            seg_in_feature=a.SEG_IN_FEATURE,
            seg_stride=spec.stride,
            seg_loss_weight=a.SEG_LOSS_WEIGHT,
            seg_loss_reduction=a.SEG_LOSS_REDUCTION,
            seg_box_enlarge=a.SEG_BOX_ENLARGE,
            seg_mask_size=a.SEG_MASK_SIZE,
        )
        return ret

    # ------------------------------------------------------------------ stage switching
    @property
    def training_stage(self) -> str:
        return self._training_stage

    @training_stage.setter
    def training_stage(self, stage: str):
        if stage not in TRAINING_STAGES:
            raise ValueError(f"training_stage must be one of {TRAINING_STAGES}, got {stage!r}")
        if stage == "generator" and getattr(self.roi_heads, "mask_generator", None) is None:
            raise ValueError("training_stage 'generator' needs MODEL.AOFD.GENERATOR_ON")
        self._training_stage = stage
        self.roi_heads.training_stage = stage

    @property
    def roi_masks_on(self) -> bool:
        """Whether detector iterations mask the positive RoIs (a schedule stage's ``MASKS``)."""
        return self.roi_heads.masks_on

    @roi_masks_on.setter
    def roi_masks_on(self, on: bool):
        self.roi_heads.masks_on = bool(on)

    def generator_parameters(self):
        """Parameters trained in the generator stage (empty without a generator)."""
        gen = getattr(self.roi_heads, "mask_generator", None)
        return list(gen.parameters()) if gen is not None else []

    def detector_parameters(self):
        """Every other parameter (trained in the detector stage)."""
        ids = {id(p) for p in self.generator_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    # ------------------------------------------------------------------ training
    def forward(self, batched_inputs: List[Dict[str, torch.Tensor]]):
        if not self.training:
            return self.inference(batched_inputs)
        images = self.preprocess_image(batched_inputs)
        assert "instances" in batched_inputs[0], "AOFD training needs 'instances'"
        gt_instances = [x["instances"].to(self.device) for x in batched_inputs]

        if self.training_stage == "generator":
            with torch.no_grad():
                features = self.backbone(images.tensor)
                proposals, _ = self.proposal_generator(images, features, gt_instances)
            _, losses = self.roi_heads(images, features, proposals, gt_instances)
            return losses

        features = self.backbone(images.tensor)
        proposals, proposal_losses = self.proposal_generator(images, features, gt_instances)
        _, detector_losses = self.roi_heads(images, features, proposals, gt_instances)
        losses = dict(detector_losses)
        losses.update(proposal_losses)
        if self.seg_head is not None:
            logits = self.seg_head(features[self.seg_in_feature])
            targets, valid = occlusion_seg_targets(
                [x["occlusion_mask"].to(self.device) if "occlusion_mask" in x else None
                 for x in batched_inputs],
                [g.gt_boxes.tensor for g in gt_instances],
                tuple(logits.shape[-2:]), self.seg_stride, self.seg_box_enlarge,
                images.image_sizes,
            )
            losses["loss_occlusion_seg"] = self.seg_loss_weight * occlusion_seg_loss(
                logits, targets, valid, self.seg_loss_reduction, self.seg_stride ** 2)
        return losses

    # ------------------------------------------------------------------ inference
    def inference(self, batched_inputs, detected_instances=None, do_postprocess: bool = True):
        assert not self.training
        images = self.preprocess_image(batched_inputs)
        features = self.backbone(images.tensor)
        if detected_instances is None:
            proposals, _ = self.proposal_generator(images, features, None)
            results, _ = self.roi_heads(images, features, proposals, None)
        else:
            detected_instances = [x.to(self.device) for x in detected_instances]
            results = self.roi_heads.forward_with_given_boxes(features, detected_instances)

        prob = None
        if self.seg_head is not None:
            prob = F.softmax(self.seg_head(features[self.seg_in_feature]), dim=1)[:, 1]
            # box-relative over the regressed box itself (enlarge 1.0): the (N, 1, M, M) format
            # facelib.api / tools/demo.py paste into ``pred_boxes`` (see occlusion_seg.py)
            crops = crop_occlusion_masks(prob, [r.pred_boxes.tensor for r in results],
                                         self.seg_stride, 1.0, self.seg_mask_size,
                                         images.image_sizes)
            for r, c in zip(results, crops):
                r.pred_occlusion_masks = c[:, None]
        if not do_postprocess:
            return results
        outputs = GeneralizedRCNN._postprocess(results, batched_inputs, images.image_sizes)
        if prob is not None:
            for i, (out, inp, (h, w)) in enumerate(zip(outputs, batched_inputs,
                                                      images.image_sizes)):
                out["occlusion_mask"] = self._image_map(prob[i], h, w, inp.get("height", h),
                                                        inp.get("width", w))
        return outputs

    def _image_map(self, prob, h, w, out_h, out_w):
        """Cell (i, j) covers input pixels [j s, (j + 1) s) x [i s, (i + 1) s): replicate, cut or
        zero-pad to the input size (h, w), then resize bilinearly to the output size."""
        s = self.seg_stride
        m = prob[None, None].repeat_interleave(s, dim=2).repeat_interleave(s, dim=3)
        m = m[..., :h, :w]
        m = F.pad(m, (0, w - m.shape[-1], 0, h - m.shape[-2]))
        if (h, w) != (out_h, out_w):
            m = F.interpolate(m, size=(int(out_h), int(out_w)), mode="bilinear",
                              align_corners=False)
        return m[0, 0]
