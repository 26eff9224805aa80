from .trainer import FaceTrainer, setup_face_cfg

__all__ = ["FaceTrainer", "setup_face_cfg"]
