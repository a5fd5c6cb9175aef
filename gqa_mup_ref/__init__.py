"""GQA-μP reference implementation: the rules, the model and the instruments of the book.

Modules, one idea each: :mod:`~gqa_mup_ref.spectral` (norms), :mod:`~gqa_mup_ref.parameterization`
(every scaling rule), :mod:`~gqa_mup_ref.model` (the GQA transformer), :mod:`~gqa_mup_ref.data`
(offline corpora), :mod:`~gqa_mup_ref.train` (one run).
"""

from .reproducibility import quiet_waiting as _quiet_waiting

_quiet_waiting()  # idle OpenMP threads sleep instead of spinning: set before torch is imported

from .parameterization import (  # noqa: E402
    KV_FACTORS,
    PARAMETERIZATIONS,
    ROLES,
    Parameterization,
    Rules,
    Shape,
    build_adamw,
    get_parameterization,
)

__version__ = "0.1.0"

__all__ = [
    "KV_FACTORS",
    "PARAMETERIZATIONS",
    "ROLES",
    "Parameterization",
    "Rules",
    "Shape",
    "build_adamw",
    "get_parameterization",
    "__version__",
]
