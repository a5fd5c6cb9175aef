import os

# Idle OpenMP threads sleep instead of spinning (see gqa_mup_ref.reproducibility): set before torch
# is imported here, so this process and the notebook kernels nbval starts (they inherit the
# environment) stay fast when another process keeps a core busy. A value set by the user is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

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
