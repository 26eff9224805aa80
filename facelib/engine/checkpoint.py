"""``FaceCheckpointer``: detectron2's ``DetectionCheckpointer`` that refuses a checkpoint which
loads none of the backbone's parameters.

detectron2 only logs a WARNING when ``MODEL.WEIGHTS`` names do not match the model's, and training
then starts from a random backbone without saying so: e.g. MobileNet weights converted for the FPN
backbone (``backbone.bottom_up.stage1...``) given to the plain MobileNet backbone
(``backbone.stage1...``). Here that case raises, naming both prefixes and the conversion option.
A ``MODEL.WEIGHTS`` file that does not exist is a ``FileNotFoundError`` saying what it accepts.
"""
import os

from detectron2.checkpoint import DetectionCheckpointer

__all__ = ["FaceCheckpointer", "BackboneWeightsNotLoaded"]


class BackboneWeightsNotLoaded(ValueError):
    pass


def _common_prefix(names, depth=2):
    heads = sorted({".".join(n.split(".")[:depth]) for n in names})
    return ", ".join(h + "." for h in heads[:4]) + (" ..." if len(heads) > 4 else "")


class FaceCheckpointer(DetectionCheckpointer):
    def load(self, path, *args, **kwargs):
        # fvcore only asserts "Checkpoint ... not found!"; say which key and what it accepts
        if path and "://" not in path and not os.path.isfile(path):
            raise FileNotFoundError(
                f"Checkpoint {path} not found (MODEL.WEIGHTS): give a local .pth / .pkl path, a "
                "model-zoo name as facelib-zoo://<name> (model_zoo/README.md), or an ImageNet backbone "
                "converted with tools/convert_weights.py")
        return super().load(path, *args, **kwargs)

    def _load_model(self, checkpoint):
        ckpt_keys = list(checkpoint.get("model", {}).keys())
        incompatible = super()._load_model(checkpoint)
        backbone = [k for k in self.model.state_dict() if k.startswith("backbone.")]
        if incompatible is None or not ckpt_keys or not backbone:
            return incompatible
        missing = set(incompatible.missing_keys)
        # every backbone tensor missing while the checkpoint does hold backbone-like tensors
        if all(k in missing for k in backbone) and any("backbone" in k for k in ckpt_keys):
            unused = [k for k in ckpt_keys if "backbone" in k]
            raise BackboneWeightsNotLoaded(
                f"none of the model's {len(backbone)} backbone tensors is in the checkpoint: the "
                f"model's names start with {_common_prefix(backbone)}, the checkpoint's with "
                f"{_common_prefix(unused, 3)}. Convert the ImageNet weights for this backbone "
                "(tools/convert_weights.py --prefix backbone. for a backbone without FPN, "
                "backbone.bottom_up. with FPN) or fix MODEL.WEIGHTS.")
        return incompatible
