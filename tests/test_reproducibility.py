"""Idle OpenMP threads sleep (set before torch starts), user settings are kept, seeds are fixed."""

import os
import subprocess
import sys

import pytest

from gqa_mup_ref.reproducibility import quiet_waiting, set_determinism


def run(code, **env):
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=base | env)
    return out.stdout.split()


CODE = ("import os, gqa_mup_ref, torch; from gqa_mup_ref import reproducibility as r; "
        "print(os.environ.get('OMP_WAIT_POLICY'), r.waiting_is_quiet())")


def test_importing_the_package_first_makes_idle_threads_sleep():
    assert run(CODE) == ["PASSIVE", "True"]


def test_a_policy_set_by_the_user_is_kept():
    assert run(CODE, OMP_WAIT_POLICY="ACTIVE") == ["ACTIVE", "False"]


def test_torch_imported_first_is_reported_not_hidden():
    code = "import torch; " + CODE.replace("import os, gqa_mup_ref, torch", "import os, gqa_mup_ref")
    assert run(code) == ["PASSIVE", "False"]  # set for child processes, too late for this one


def test_quiet_waiting_on_a_given_environment_only_fills_gaps():
    env = {"OMP_WAIT_POLICY": "active"}
    quiet_waiting(env)
    assert env == {"OMP_WAIT_POLICY": "active"}
    env = {}
    quiet_waiting(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_set_determinism_fixes_seeds_and_threads():
    import torch

    set_determinism(3, threads=1)
    a = torch.rand(3)
    set_determinism(3, threads=1)
    assert torch.equal(a, torch.rand(3)) and torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="threads=0 must be a positive integer"):
        set_determinism(0, threads=0)


def test_cpu_model_names_the_processor():
    import re
    from pathlib import Path

    from gqa_mup_ref.reproducibility import cpu_model

    name = cpu_model()
    assert name and name == name.strip()
    info = Path("/proc/cpuinfo")
    if info.exists():
        match = re.search(r"^model name\s*:\s*(.+)$", info.read_text(), re.MULTILINE)
        if match:
            assert name == match.group(1).strip()


def test_every_chapter_imports_the_package_before_torch():
    """A notebook that imports torch before gqa_mup_ref starts OpenMP with spinning idle threads: with
    threads=2 and one core busy, chapter 2 ran more than four times slower than on an idle machine."""
    import json
    import re
    from pathlib import Path

    book = Path(__file__).resolve().parents[1] / "book"
    chapters = sorted(book.glob("ch0*.ipynb"))
    from book_chapters import pages

    assert chapters == sorted(p for p in pages() if p.suffix == ".ipynb"), "every chapter notebook, as _toc.yml lists"
    for path in chapters:
        code = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
                         if cell["cell_type"] == "code")
        first = {name: re.search(rf"^\s*(import|from) {name}\b", code, re.M) for name in ("gqa_mup_ref", "torch")}
        assert first["gqa_mup_ref"], path.name
        assert first["torch"] is None or first["gqa_mup_ref"].start() < first["torch"].start(), \
            f"{path.name} imports torch before gqa_mup_ref: put `import gqa_mup_ref` first"
