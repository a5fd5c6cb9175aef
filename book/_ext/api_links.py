"""Sphinx extension: short names in the package's docstrings link to the one object of that name.

The docstrings of ``gqa_mup_ref`` refer to their neighbours by short name (``:func:`build_adamw```,
``:class:`RunConfig```), which reads well in the code but leaves Sphinx's nitpicky mode (``-n``) without a
target when the object lives in another module. On a missing Python reference this looks the name up
among the documented objects: a unique object whose dotted name ends with it is the target; a dataclass
field that autodoc does not document separately links to its class. Anything else stays a warning.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.nodes import make_refnode


def _candidates(domain, target: str) -> list[tuple[str, object]]:
    suffix = "." + target
    return [(name, obj) for name, obj in domain.objects.items() if name.endswith(suffix) or name == target]


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    domain = env.get_domain("py")
    found = _candidates(domain, target)
    if not found and "." in target:  # Class.field -> Class
        found = _candidates(domain, target.rsplit(".", 1)[0])
    # one object re-exported by two modules (train.RunConfig is config.RunConfig) is still one object
    unique = {obj.docname + "#" + obj.node_id: (name, obj) for name, obj in found}
    if len(unique) != 1:
        return None
    name, obj = next(iter(unique.values()))
    return make_refnode(app.builder, node.get("refdoc"), obj.docname, obj.node_id, contnode, name)


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
