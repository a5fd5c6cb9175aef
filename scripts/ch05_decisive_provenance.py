"""Where each run of chapter 5's decisive experiment was made (protocol.md, amendment 1).

Run records do not store the CPU's instruction set, which moves losses near the learning-rate cliff
(results/reproduction). Each run's machine follows from when it was committed, and the sessions are
listed below from the README's run log. Writes results/ch05_decisive/provenance.json:
``{key: {"made": session label, "isa": "AVX2"/"AVX512", "torch": torch version}}``.

    python scripts/ch05_decisive_provenance.py

Runs not yet committed are attributed to this machine (torch's detected CPU capability).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "results" / "ch05_decisive"

# (first commit date inclusive, label, instruction set): from the README's run log
SESSIONS = [
    ("2026-11-01", "copied from ch05_wide (made before the protocol)", "AVX512"),
    ("2026-12-02", "2026-12-02 session", "AVX2"),
    ("2026-12-07", "2026-12-07 session", "AVX512"),
]
COPIED_BEFORE = "dc6a88a"  # the protocol's commit: runs it added are the copies


def first_commit(path: Path) -> tuple[str, str] | None:
    out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%h %ad", "--date=short", "--", str(path)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return (out[-2], out[-1]) if out else None


def session(commit: tuple[str, str] | None, here: str) -> tuple[str, str]:
    if commit is None:
        return "not yet committed (this machine)", here
    sha, day = commit
    if sha == COPIED_BEFORE:
        return SESSIONS[0][1], SESSIONS[0][2]
    label, isa = SESSIONS[1][1:]
    for start, name, kind in SESSIONS[1:]:
        if day >= start:
            label, isa = name, kind
    return label, isa


def main() -> int:
    import torch

    here = str(torch.backends.cpu.get_cpu_capability())
    out = {}
    for path in sorted(FOLDER.glob("*.json")):
        if path.name in ("power.json", "provenance.json", "analysis.json"):
            continue
        record = json.loads(path.read_text())
        label, isa = session(first_commit(path), here)
        out[record["key"]] = {"made": label, "isa": isa, "torch": record.get("torch_version")}
    (FOLDER / "provenance.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    counts: dict[tuple, int] = {}
    for v in out.values():
        counts[(v["made"], v["isa"], v["torch"])] = counts.get((v["made"], v["isa"], v["torch"]), 0) + 1
    for (made, isa, torch_version), n in sorted(counts.items()):
        print(f"{n:4d} runs  {isa:7s} torch {torch_version:14s} {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
