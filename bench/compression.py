"""Compression benchmark: a digits CNN and a tabular MLP through each technique.

Prints one table: size ratio (original bytes / compressed), latency ratio at batch 1 and
64 (original / compressed: > 1 is faster), accuracy delta in points. Run:
    .venv/bin/python bench/compression.py
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.compression.config import validate_compression_config  # noqa: E402
from workers.compression.engine import run_compression  # noqa: E402
from workers.data.builtin import load_builtin  # noqa: E402
from workers.models.artifacts import save_model, scaling_spec  # noqa: E402
from workers.reporter import Reporter  # noqa: E402
from workers.training.cnn import CNN, CNNConfig, train_cnn  # noqa: E402
from workers.training.mlp import MLP, MLPConfig, train_mlp  # noqa: E402

STEPS = {
    "prune_magnitude 50% (sensitivity)": [
        {"technique": "prune_magnitude", "sensitivity": True, "finetune_epochs": 2}
    ],
    "prune_structured 50% + fine-tune": [
        {"technique": "prune_structured", "ratio": 0.5, "steps": 2, "finetune_epochs": 3}
    ],
    "distill response, student x0.5": [{"technique": "distill", "epochs": 15}],
    "dynamic_int8": ["dynamic_int8"],
    "static_int8 (histogram)": ["static_int8"],
    "qat 2 epochs": ["qat"],
    "fp16": ["half"],
    "weight_only 4-bit per-channel": [{"technique": "weight_only", "bits": 4}],
    "weight_only log2 5-bit": [{"technique": "weight_only", "scheme": "log2", "bits": 5}],
    "mixed 4-bit, 1/3 float": [{"technique": "mixed", "keep_float": 0.34}],
    "prune -> distill -> int8": [
        {"technique": "prune_structured", "finetune_epochs": 3},
        {"technique": "distill", "epochs": 15},
        "dynamic_int8",
    ],
}


Quiet = Reporter  # every hook a no-op: no progress shown, never stopped


def models(tmp: Path) -> dict[str, tuple[Path, object]]:
    digits, table = load_builtin("digits"), load_builtin("breast_cancer")
    cnn = CNN(CNNConfig(1, 8, 8, 10, channels=(32, 64)))
    images = digits.X.reshape(-1, 1, 8, 8)
    train_cnn(
        cnn,
        images,
        digits.y,
        images[:4],
        digits.y[:4],
        epochs=15,
        lr=0.01,
        batch_size=64,
        weight_decay=0.0,
        seed=0,
    )
    save_model(
        cnn,
        tmp / "cnn",
        family="cnn",
        spec={"kind": "cnn", "config": asdict(cnn.config), "classes": digits.classes},
    )
    cfg = MLPConfig(
        n_features=table.X.shape[1], n_outputs=2, hidden_layers=3, hidden_units=256, dropout=0.0
    )
    mlp = MLP(cfg)
    train_mlp(
        mlp,
        table.X,
        table.y,
        None,
        None,
        task="classification",
        epochs=20,
        lr=0.001,
        batch_size=64,
        weight_decay=0.0,
        seed=0,
    )
    save_model(
        mlp,
        tmp / "mlp",
        family="mlp",
        spec={
            "kind": "mlp",
            "config": asdict(cfg),
            "classes": table.classes,
            **scaling_spec(table.X),
        },
    )
    return {"digits CNN": (tmp / "cnn", digits), "tabular MLP": (tmp / "mlp", table)}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model_name, (directory, data) in models(Path(tmp)).items():
            for label, steps in STEPS.items():
                config = validate_compression_config(
                    {"model_version": 1, "steps": steps, "report": {"repeats": 30}}
                )
                result = run_compression(
                    config,
                    directory,
                    data,
                    Quiet(),
                    directory=Path(tmp) / "out" / model_name / label,
                )
                rel = result["steps"][-1]["relative"]
                rows.append(
                    (
                        model_name,
                        label,
                        rel["size_ratio"],
                        rel["macs_ratio"],
                        rel["speedup_b1"],
                        rel["speedup_b64"],
                        100 * rel["accuracy_delta"],
                    )
                )
    print(
        "| model | technique | size ratio | MACs ratio | latency ratio b1 | "
        "latency ratio b64 | accuracy delta (points) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for m, t, s, macs, b1, b64, acc in rows:
        print(f"| {m} | {t} | {s:.2f}x | {macs:.2f}x | {b1:.2f}x | {b64:.2f}x | {acc:+.2f} |")


if __name__ == "__main__":
    main()
