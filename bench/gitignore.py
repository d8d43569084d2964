"""Time `GitIgnores.ignored` (gitignore.py), what the imports source pays per file it may read when a context block
is rebuilt: a repository with a root `.gitignore` of GitHub's Python template's size (about 130 lines), a nested
one, and files from one to five folders deep.

    python bench/gitignore.py [--files 400] [--repeat 5]
    PYTHONPATH=/other/checkout/server python bench/gitignore.py   # another version of the server, to compare

Prints the microseconds per call, median over the repeats: cold (a new `GitIgnores`: the rules files read and
compiled) and warm (the same one again: the rules cached, only their modification times looked at).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if "PYTHONPATH" not in os.environ:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from infill_ls.completion.crossfile.gitignore import GitIgnores

TEMPLATE = """
__pycache__/
*.py[cod]
*$py.class
*.so
.Python
build/
develop-eggs/
dist/
downloads/
eggs/
.eggs/
lib64/
parts/
sdist/
var/
wheels/
*.egg-info/
.installed.cfg
*.egg
MANIFEST
*.manifest
*.spec
pip-log.txt
pip-delete-this-directory.txt
htmlcov/
.tox/
.nox/
.coverage
.coverage.*
.cache
nosetests.xml
coverage.xml
*.cover
*.py,cover
.hypothesis/
.pytest_cache/
cover/
*.mo
*.pot
*.log
local_settings.py
db.sqlite3
db.sqlite3-journal
instance/
.webassets-cache
.scrapy
docs/_build/
.pybuilder/
target/
.ipynb_checkpoints
profile_default/
ipython_config.py
.pdm.toml
__pypackages__/
celerybeat-schedule
celerybeat.pid
*.sage.py
.env
.venv
env/
venv/
ENV/
env.bak/
venv.bak/
.spyderproject
.spyproject
.ropeproject
/site
.mypy_cache/
.dmypy.json
dmypy.json
.pyre/
.pytype/
cython_debug/
.idea/
**/secrets/**
!docs/**/*.md
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / ".git" / "info").mkdir(parents=True)
        (root / ".gitignore").write_text(TEMPLATE * 2)  # about 130 lines
        (root / "pkg").mkdir()
        (root / "pkg" / ".gitignore").write_text("generated/\n!keep.py\n*.tmp\n")
        files = []
        for n in range(args.files):
            depth = 1 + n % 5
            path = root.joinpath(*(["pkg"] + [f"d{k}" for k in range(depth - 1)])[:depth - 1], f"m{n}.py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x = 1\n")
            files.append(path)
        cold, warm = [], []
        for _ in range(args.repeat):
            ignores = GitIgnores()
            for sample in (cold, warm):
                start = time.perf_counter()
                for path in files:
                    ignores.ignored(root, path)
                sample.append((time.perf_counter() - start) / len(files) * 1e6)
        print(f"{len(files)} files, {len(TEMPLATE.splitlines()) * 2} rules: cold {statistics.median(cold):.1f} us"
              f" per call, warm {statistics.median(warm):.1f} us per call")


if __name__ == "__main__":
    main()
