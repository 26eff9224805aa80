"""Writing to detectron2's ``EventStorage`` from model code that also runs outside training."""
from detectron2.utils.events import get_event_storage

__all__ = ["put_scalar"]


def put_scalar(name: str, value: float, **kwargs) -> None:
    """``EventStorage.put_scalar(name, value)`` when a storage is open (the training loop, a test
    under ``with EventStorage()``), else nothing (inference, export)."""
    try:
        storage = get_event_storage()
    except AssertionError:
        return
    storage.put_scalar(name, value, **kwargs)
