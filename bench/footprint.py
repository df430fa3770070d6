"""Installed footprint of a plain ``pip install .``: the runtime dependencies in a fresh venv.

    .venv/bin/python bench/footprint.py [--extras train,anthropic] [--top 15] [--keep]

Creates a virtual environment in a temporary directory with the running interpreter, installs the
project (not editable, no extras unless ``--extras`` is given) with that venv's pip, then reports the
disk usage of ``site-packages`` minus pip and setuptools (the ones ``venv`` itself brings), and the
largest distributions. Each distribution's size is the sum of the files its ``RECORD`` lists (as
``du`` counts them: allocated blocks), so a package's ``.libs`` folder is counted with it.

Uses pip's cache and PyPI (or whatever index pip is configured with); it needs nothing else.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Distributions that come with the venv, not with the project.
EXCLUDED = {"pip", "setuptools", "wheel"}
BUDGET_MB = 300.0
MB = 1024 * 1024
#: Not copied into the build directory (the build must not touch the working tree).
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "var",
    "models",
    "build",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "node_modules",
)


def disk_usage(path: Path) -> int:
    try:
        st = path.lstat()
    except OSError:
        return 0
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages")) or sorted(venv.glob("Lib/site-packages"))
    if not found:
        raise SystemExit(f"no site-packages under {venv}")
    return found[0]


def distribution_files(site: Path) -> dict[str, set[Path]]:
    """Files of each installed distribution (from its RECORD), inside ``site``."""
    owned: dict[str, set[Path]] = {}
    for info in sorted(site.glob("*.dist-info")):
        name = info.name[: -len(".dist-info")].rsplit("-", 1)[0].lower().replace("_", "-")
        files: set[Path] = {p for p in info.rglob("*") if p.is_file()}
        record = info / "RECORD"
        if record.is_file():
            with record.open(newline="", encoding="utf-8") as handle:
                for row in csv.reader(handle):
                    if not row:
                        continue
                    path = (site / row[0]).resolve()
                    if path.is_relative_to(site.resolve()) and path.is_file():
                        files.add(path)
        # byte code compiled after installation sits next to the recorded sources
        for path in list(files):
            if path.suffix == ".py":
                cache = path.parent / "__pycache__"
                if cache.is_dir():
                    files.update(cache.glob(f"{path.stem}.*.pyc"))
        owned[name] = files
    return owned


def measure(site: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """(total bytes, excluded bytes, [(distribution, bytes)] largest first)."""
    resolved = site.resolve()
    total = sum(disk_usage(p) for p in resolved.rglob("*") if p.is_file() or p.is_symlink())
    owned = distribution_files(resolved)
    sizes = {name: sum(disk_usage(p) for p in files) for name, files in owned.items()}
    excluded = sum(size for name, size in sizes.items() if name in EXCLUDED)
    ranking = sorted(((n, s) for n, s in sizes.items() if n not in EXCLUDED), key=lambda x: -x[1])
    return total, excluded, ranking


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--extras", default="", help="comma-separated extras to install too (e.g. train)")
    parser.add_argument("--top", type=int, default=15, help="how many distributions to list")
    parser.add_argument("--keep", action="store_true", help="print the venv path and do not delete it")
    args = parser.parse_args()

    target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    temp = tempfile.mkdtemp(prefix="footprint-")
    venv = Path(temp) / "venv"
    try:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        # a copy of the project: the build must not leave build/ or *.egg-info in the working tree
        source = Path(temp) / "src"
        shutil.copytree(ROOT, source, ignore=IGNORED)
        install = source if not args.extras else f"{source}[{args.extras}]"
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(install)],
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            sys.stderr.write(pip.stdout + pip.stderr)
            return pip.returncode
        seconds = time.perf_counter() - started
        site = site_packages(venv)
        total, excluded, ranking = measure(site)
        net = total - excluded
        verdict = "within" if net / MB < BUDGET_MB else "OVER"
        shown = target.replace(str(ROOT), ".")
        print(f"pip install {shown}   ({seconds:.0f} s, Python {sys.version.split()[0]})")
        print(f"site-packages {total / MB:.1f} MB, minus pip/setuptools {excluded / MB:.1f} MB")
        print(f"= {net / MB:.1f} MB ({verdict} the {BUDGET_MB:.0f} MB budget), {len(ranking)} distributions")
        print()
        for name, size in ranking[: args.top]:
            print(f"  {size / MB:7.1f} MB  {name}")
        rest = sum(size for _, size in ranking[args.top :])
        if rest:
            print(f"  {rest / MB:7.1f} MB  ({len(ranking) - args.top} others)")
        if args.keep:
            print(f"\nvenv kept at {venv}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
