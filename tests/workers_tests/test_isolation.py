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
