import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_workers_never_import_django():
    code = (
        "import sys, workers.hpo.engine, workers.data.builtin, workers.training.mlp\n"
        "assert 'django' not in sys.modules, 'django imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_config_validation_does_not_load_torch():
    code = "import sys, workers.hpo.config\nassert 'torch' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


BLOCKER = """
import importlib, importlib.abc, sys

class NoPlatform(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("django", "automl"):
            raise ModuleNotFoundError(f"{name} is blocked: workers/ must not import it")
        return None

sys.meta_path.insert(0, NoPlatform())
for name in sys.argv[1:]:
    importlib.import_module(name)
"""


def test_every_module_under_workers_imports_with_django_and_automl_absent():
    names = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "workers").rglob("*.py")
    )
    assert "workers.hpo.engine" in names and "workers.nas.engine" in names
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, *names], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
