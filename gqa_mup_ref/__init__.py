"""GQA-μP reference implementation: the rules, the model and the instruments of the book.

Modules, one idea each: :mod:`~gqa_mup_ref.spectral` (norms), :mod:`~gqa_mup_ref.parameterization`
(every scaling rule), :mod:`~gqa_mup_ref.model` (the GQA transformer), :mod:`~gqa_mup_ref.data`
(offline corpora), :mod:`~gqa_mup_ref.train` (one run).
"""

from .parameterization import (
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
