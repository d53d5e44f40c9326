#!/usr/bin/env python3
"""Bootstrap: create the virtual environment, then serve the registry or run its checks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


def _ensure_venv() -> None:
    """Create .venv and install the project when pyproject.toml changed since the last install."""
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is required")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating virtual environment in .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    print("installing dependencies (first run only)", flush=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def _run(*cmd: str) -> None:
    code = subprocess.run(cmd, cwd=ROOT).returncode
    if code:
        sys.exit(code)


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] not in {"serve", "test"}:
        sys.exit("usage: python3 dev.py serve [registry serve options] | test [pytest options]")
    _ensure_venv()
    if args[0] == "serve":
        os.execv(str(BIN / "registry"), [str(BIN / "registry"), "serve", "--demo", *args[1:]])
    _run(str(BIN / "ruff"), "check", ".")
    _run(str(BIN / "ruff"), "format", "--check", ".")
    _run(str(BIN / "python"), "-m", "pytest", *args[1:])


if __name__ == "__main__":
    main()
