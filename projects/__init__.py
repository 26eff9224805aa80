"""Method projects of facelib. Importing this package imports every project, which registers
its meta-architecture(s) in detectron2's registries and its config keys with
:func:`facelib.config.register_config_extension` (``get_face_cfg()`` imports it)."""
from .AOFD import aofd  # noqa: F401  (AOFD: Chen, Song, He 2018)
from .FAN import fan  # noqa: F401  (FAN: Wang, Yuan, Yu 2017)
