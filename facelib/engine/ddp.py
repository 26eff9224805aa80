"""Multi-process training wrapper: ``create_face_ddp_model(model, cfg)``.

detectron2's ``create_ddp_model`` passes ``device_ids=[local_rank]``, which
``DistributedDataParallel`` rejects for a CPU module; multi-process CPU training (detectron2's
``launch`` with the gloo backend, ``tools/train_net.py --num-gpus N`` on a machine without CUDA)
needs ``device_ids=None``. ``TRAINER.DDP_FIND_UNUSED_PARAMETERS`` is DDP's
``find_unused_parameters``: on for models whose iterations leave some trainable parameters without
gradients (AOFD's generator iterations freeze the detector and the reverse; without it DDP
stops with "Expected to have finished reduction in the prior iteration").
"""
from detectron2.utils import comm
from torch.nn.parallel import DistributedDataParallel

__all__ = ["create_face_ddp_model"]


def create_face_ddp_model(model, cfg):
    """``model`` wrapped in ``DistributedDataParallel`` when more than one process trains, else
    ``model`` itself."""
    if comm.get_world_size() == 1:
        return model
    device = next(model.parameters()).device
    return DistributedDataParallel(
        model,
        device_ids=None if device.type == "cpu" else [comm.get_local_rank()],
        broadcast_buffers=False,
        find_unused_parameters=bool(cfg.TRAINER.DDP_FIND_UNUSED_PARAMETERS),
    )
