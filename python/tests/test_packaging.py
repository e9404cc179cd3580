"""Packaging: the sdist installs into a fresh virtualenv and works; the abi3
wheel imports and works on every CPython from 3.10 to 3.13 on the machine."""

from __future__ import annotations

import glob
import os
import pathlib
import subprocess
import sys
import tarfile

PROJECT = pathlib.Path(__file__).resolve().parents[1]
SMOKE = """
import sys, tripgate
b = tripgate.CircuitBreaker(failure_tolerance=0, reset_timeout=60.0)
try:
    b.call(lambda: 1 / 0)
except ZeroDivisionError:
    pass
try:
    b.call(print, "must not run")
    raise SystemExit("the open breaker let a call through")
except tripgate.CircuitOpenError as e:
    assert e.state is tripgate.State.OPEN and 59 < e.retry_after <= 60
print(sys.version_info[:2], b.state.value)
"""


def maturin(*args: str, out: pathlib.Path) -> pathlib.Path:
    subprocess.run([sys.executable, "-m", "maturin", *args, "-o", str(out)], cwd=PROJECT, check=True, capture_output=True)
    (built,) = out.iterdir()
    return built


def fresh_venv(python: str, where: pathlib.Path) -> pathlib.Path:
    subprocess.run([python, "-m", "venv", str(where)], check=True)
    return where / "bin" / "python"


def test_sdist_installs_into_a_fresh_virtualenv(tmp_path: pathlib.Path) -> None:
    sdist = maturin("sdist", out=tmp_path / "dist")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    for needed in ("core/src/machine.rs", "bindings-python/src/lib.rs", "tripgate/_native.pyi", "tripgate/py.typed", "Cargo.lock"):
        assert any(n.endswith(needed) for n in names), needed
    python = fresh_venv(sys.executable, tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(sdist)], check=True)
    result = subprocess.run([str(python), "-c", SMOKE], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().endswith("open")


def interpreters() -> list[str]:
    found = {}
    for minor in range(10, 14):
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/3.{minor}.*/bin/python3")))
        if candidates:
            found[minor] = candidates[-1]
    found.setdefault(sys.version_info[1], sys.executable)
    return [found[m] for m in sorted(found)]


def test_abi3_wheel_works_on_every_cpython_from_3_10(tmp_path: pathlib.Path) -> None:
    wheel = maturin("build", "--release", out=tmp_path / "dist")
    assert "abi3" in wheel.name, wheel.name
    seen = []
    for i, interpreter in enumerate(interpreters()):
        python = fresh_venv(interpreter, tmp_path / f"venv{i}")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", str(wheel)], check=True)
        result = subprocess.run([str(python), "-c", SMOKE], check=True, capture_output=True, text=True, cwd=tmp_path)
        seen.append(result.stdout.strip())
    print("abi3 wheel ran on:", "; ".join(seen))
    assert all(line.endswith("open") for line in seen)


def test_pip_install_of_the_source_folder(tmp_path: pathlib.Path) -> None:
    python = fresh_venv(sys.executable, tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(PROJECT)], check=True)
    result = subprocess.run([str(python), "-c", SMOKE], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().endswith("open")
