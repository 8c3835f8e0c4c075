"""The file names of a model directory (no imports: the web process reads them freely)."""

FORMAT_VERSION = 1
SPEC_FILE = "spec.json"
WEIGHTS_FILE = "weights.safetensors"
SKOPS_FILE = "model.skops"
ONNX_FILE = "model.onnx"  # an imported ONNX graph (kind "onnx")
PT2_FILE = "model.pt2"  # an imported torch.export program (kind "pt2")
PREPROCESSING = "preprocessing"  # preprocessing.skops beside its record preprocessing.json
REFERENCE_FILE = "reference.json"  # the training rows' statistics drift checks compare with

# The only files a model directory (and so an imported zip or a bundle) may hold.
MODEL_FILES = frozenset(
    {
        SPEC_FILE,
        WEIGHTS_FILE,
        SKOPS_FILE,
        ONNX_FILE,
        PT2_FILE,
        f"{PREPROCESSING}.skops",
        f"{PREPROCESSING}.json",
        REFERENCE_FILE,
    }
)
