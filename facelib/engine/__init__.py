from .checkpoint import BackboneWeightsNotLoaded, FaceCheckpointer
from .grad_norm import GradientNormHook
from .trainer import TRAINER_REGISTRY, FaceTrainer, get_trainer_class, setup_face_cfg

__all__ = ["TRAINER_REGISTRY", "FaceTrainer", "FaceCheckpointer", "BackboneWeightsNotLoaded",
           "GradientNormHook", "get_trainer_class", "setup_face_cfg"]
