import os

# Idle OpenMP threads sleep instead of spinning (see gqa_mup_ref.reproducibility): set before torch
# is imported here, so this process and the notebook kernels nbval starts (they inherit the
# environment) stay fast when another process keeps a core busy. A value set by the user is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402
from nbval_stable import pytest_collection_modifyitems  # noqa: E402,F401  (nbval skips figure bytes)

CUDA_SKIP = ("no CUDA GPU here (torch.cuda.is_available() is False); the same command runs this "
             "case on a machine with one")


def pytest_generate_tests(metafunc):
    """Tests marked ``cuda`` that take a ``device`` argument run on cpu, and on cuda where there is one."""
    if metafunc.definition.get_closest_marker("cuda") and "device" in metafunc.fixturenames:
        metafunc.parametrize("device", [
            "cpu",
            pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                          reason=CUDA_SKIP)),
        ])


@pytest.fixture(autouse=True)
def _deterministic():
    """Every test starts from the same seed with one thread (fast and reproducible)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """The book built once per test session by the publishing workflow's own steps, in a fresh copy of the
    repository (``scripts/run_workflow_locally.py``; the pip install prefix is skipped, the package being
    installed already). Returns the ``_build/html`` folder. About a minute."""
    import importlib.util
    import subprocess
    from pathlib import Path

    pytest.importorskip("jupyter_book", reason="the book extra is not installed")
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("run_workflow_locally", root / "scripts" / "run_workflow_locally.py")
    workflow = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(workflow)
    clone = tmp_path_factory.mktemp("clone")
    workflow.copy_tree(clone)
    try:
        workflow.run_steps(clone, "example/gqa-mup-ref", install=False)
    except subprocess.CalledProcessError as error:
        pytest.fail(f"workflow step failed: {error.cmd[-1]}\n{error.stdout[-3000:]}\n{error.stderr[-3000:]}")
    return clone / "_build" / "html"

