"""torch.export programs as a user's own training would save them, and crafted ones."""

import io
import zipfile
from pathlib import Path

import torch

from tests.support.onnx_graphs import iris_logistic


class PickleTrap:
    """Unpickling this runs code: it writes `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def iris_program() -> tuple[object, bytes]:
    """The iris logistic regression as a torch.export program of logits (dynamic batch)."""
    model, _ = iris_logistic()
    linear = torch.nn.Linear(4, 3)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(model.coef_, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(model.intercept_, dtype=torch.float32))
    batch = torch.export.Dim("batch")
    program = torch.export.export(
        linear.eval(), (torch.zeros(2, 4),), dynamic_shapes=({0: batch},)
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return model, buffer.getvalue()


def rewritten(archive: bytes, replace: dict[str, bytes]) -> bytes:
    """The archive with records (paths below its root folder) replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    root = source.namelist()[0].split("/", 1)[0]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            record = member.filename.split("/", 1)[1]
            target.writestr(member, replace.pop(record, source.read(member)))
        for record, data in replace.items():
            target.writestr(f"{root}/{record}", data)
    return out.getvalue()
