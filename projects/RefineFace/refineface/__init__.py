"""RefineFace (Zhang, Chi, Lei, Li, "RefineFace: Refinement Neural Network for High Performance Face
Detection", TPAMI 2020; its conference version is SRN, AAAI 2019).

* :mod:`.config`              -- ``MODEL.REFINEFACE.*`` keys (``add_refineface_config``, registered on import);
* :mod:`.first_step_features` -- the C-level features of the first step (Sec. 3, Fig. 3);
* :mod:`.head`                -- the class / box subnets shared by the two steps (Sec. 3.2);
* :mod:`.rfe`                 -- Receptive Field Enhancement (Sec. 3.5, Fig. 7);
* :mod:`.scale_margin`        -- Scale-aware Margin Loss (Sec. 3.3, Eqs. 3-4);
* :mod:`.fsm`                 -- Feature Supervision Module (Sec. 3.4);
* :mod:`.refineface`          -- ``RefineFace`` with STR (Sec. 3.1) and STC (Sec. 3.2), a
  :class:`facelib.modeling.FaceRetinaNet` in ``META_ARCH_REGISTRY``.
"""
from .config import FSM_TYPES, SML_MODES, SML_STEPS, add_refineface_config
from .first_step_features import FirstStepFeatures, TwoStepFeatures
from .fsm import FeatureSupervisionModule, FSMHead, nearest_scale_level, select_proposals
from .head import RefineFaceHead
from .refineface import RefineFace, first_step_levels
from .rfe import RFE, RFE_KERNELS, replace_middle_convs
from .scale_margin import apply_scale_margin, scale_margins

__all__ = [
    "add_refineface_config",
    "SML_MODES",
    "SML_STEPS",
    "FSM_TYPES",
    "FirstStepFeatures",
    "TwoStepFeatures",
    "FeatureSupervisionModule",
    "FSMHead",
    "nearest_scale_level",
    "select_proposals",
    "RefineFaceHead",
    "RefineFace",
    "first_step_levels",
    "RFE",
    "RFE_KERNELS",
    "replace_middle_convs",
    "apply_scale_margin",
    "scale_margins",
]
