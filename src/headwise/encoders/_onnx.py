"""ONNX Runtime backend for :class:`~headwise.encoders.HFEncoder`: export once, reuse from disk.

The transformer is exported with ``torch.onnx.export`` (the TorchScript exporter, opset
:data:`OPSET`) through a wrapper that returns the hidden states of the requested layers. The wrapper
turns the 0/1 attention mask into an additive bias inside the graph, so transformers' mask helpers
take their "4-D mask given" path and no shape-dependent branch is frozen into the trace; batch and
sequence axes are dynamic. A *packed* export (``fields["packed"]``, :mod:`._packing`) takes
``segment_ids`` and ``position_ids`` instead of the mask and builds a block-diagonal bias, so
several inputs share a row. Before an export is moved into place it is run on a batch of another
shape, with padding (and, packed, with two inputs sharing a row), and compared with torch run on
each input the ordinary way.

Exports live in ``<onnx cache dir>/<name>/model.onnx`` (:func:`headwise.config.onnx_cache_dir`),
where ``<name>`` hashes the weights and config revisions, the layers, the opset and the
quantization. Each is written to a temporary folder and renamed into place, so a reader never sees
half a model and concurrent writers cannot corrupt each other. ``quantize="int8"`` is
``onnxruntime.quantization.quantize_dynamic`` with per-channel int8 weights (per-tensor int8 loses
too much accuracy on MiniLM), applied to the fp32 export by one of :data:`INT8_RECIPES`; the recipe
is hashed into the export's folder name (and recorded in the encoder's cache key), so changing it
never reuses a stale export or stale vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import secrets
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import onnx_cache_dir
from ..exceptions import CacheError, HeadwiseError, MissingDependencyError

__all__ = [
    "BACKENDS",
    "INT8_RECIPE",
    "INT8_RECIPES",
    "OPSET",
    "QUANTIZATIONS",
    "OnnxSession",
    "ensure_exported",
    "recipe_is_fused",
    "check_onnxruntime_installed",
    "import_onnxruntime",
    "physical_cores",
]

BACKENDS: tuple[str, ...] = ("torch", "onnx")
QUANTIZATIONS: tuple[str, ...] = ("int8",)
#: How ``quantize="int8"`` is made from the fp32 export. Both quantize weights per output channel
#: and activations per tensor at run time (``quantize_dynamic``). ``"dynamic"`` quantizes every
#: weight MatMul; ``"dynamic-ffn-down-fp32"`` keeps in fp32 the MatMuls that contract their input
#: (weight rows > columns: a transformer's FFN down-projection, whose input is the wide, heavy-tailed
#: GELU output). The ``fused-`` recipes do the same to the fused fp32 graph (:mod:`._onnx_fuse`),
#: where the attention's QKV projection is one ``Attention`` node (quantized to ``QAttention``);
#: the plain ones quantize the unfused export. Per-group error of MiniLM's int8 copy on unlabelled
#: text, and the accuracy gate: bench/results/precision.md.
INT8_RECIPES: tuple[str, ...] = (
    "dynamic",
    "dynamic-ffn-down-fp32",
    "fused-dynamic",
    "fused-dynamic-ffn-down-fp32",
)
#: The recipe ``quantize="int8"`` uses unless another is asked for. A plain-graph recipe: on the
#: 2-core benchmark machine the fused graph ran slower than the plain one that ONNX Runtime's
#: session optimiser sees (fp32 0.73x, int8 0.87x; bench/results/precision.md).
INT8_RECIPE = "dynamic-ffn-down-fp32"
OPSET = 17
_EXPORT_VERSION = 1  # bump when the wrapper or the export settings change
_MODEL_FILE = "model.onnx"
_CHECK_RTOL = 1e-3  # |onnx - torch| <= rtol * max(1, max |torch|) on real tokens

# (eager attention?) -> model, token types?, forward kwargs
ModelLoader = Callable[[bool], tuple[Any, bool, dict[str, Any]]]
# (token types?, packed?) -> trace feed, check feed, the check's torch feed, and for each real token
# of the torch feed (row-major) its position in the flattened (rows * width) ONNX output
FeedMaker = Callable[
    [bool, bool],
    tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray],
]


def import_onnxruntime() -> Any:
    """Import onnxruntime or say which extra installs it."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise MissingDependencyError(
            f"backend='onnx' needs onnxruntime, which could not be imported ({exc}). "
            "pip install 'headwise[onnx]'"
        ) from exc


def check_onnxruntime_installed() -> None:
    """Fail early, without importing it (about a second), when onnxruntime is missing."""
    from ._hf_dir import module_available

    if not module_available("onnxruntime"):
        raise MissingDependencyError(
            "backend='onnx' needs onnxruntime, which is not installed. pip install 'headwise[onnx]'"
        )


def physical_cores() -> int:
    """Physical cores this process may run on: its CPU affinity, hyper-threads counted once.

    >>> physical_cores() >= 1
    True
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topo / "physical_package_id").read_text().strip()
            core = (topo / "core_id").read_text().strip()
        except OSError:
            return max(1, len(cpus))
        cores.add((package, core))
    return max(1, len(cores))


class OnnxSession:
    """An ONNX Runtime CPU session for one export, tuned for throughput.

    Graph optimisation level "all", ``intra_op_num_threads`` = :func:`physical_cores`, one
    inter-op thread, sequential execution, and no spin-waiting between operators: on a machine
    shared with other work, spinning threads took cores from it (1.4x slower, measured).
    """

    def __init__(self, path: Path) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = physical_cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feed: dict[str, np.ndarray], layers: Sequence[int]) -> dict[int, np.ndarray]:
        """Hidden states ``(batch, width, dim)`` float32 of ``layers`` for one padded batch."""
        outputs = self.session.run(
            [_output_name(layer) for layer in layers],
            {name: feed[name] for name in self.input_names},
        )
        return {
            layer: np.asarray(h, dtype=np.float32) for layer, h in zip(layers, outputs, strict=True)
        }


def _output_name(layer: int) -> str:
    return f"hidden_state_{layer}"


def export_name(fields: dict[str, Any]) -> str:
    """Folder name of an export: readable prefix plus a hash of everything that shapes the graph."""
    blob = json.dumps(
        {**fields, "opset": OPSET, "export_version": _EXPORT_VERSION}, sort_keys=True
    ).encode()
    digest = hashlib.sha256(blob).hexdigest()[:24]
    layers = "-".join(str(layer) for layer in fields["layers"])
    return f"L{layers}-{fields['quantize'] or 'fp32'}-{digest}"


def ensure_exported(
    fields: dict[str, Any],
    load_model: ModelLoader,
    make_feeds: FeedMaker,
    *,
    root: Path | None = None,
) -> Path:
    """Path of the ONNX model for ``fields``, exporting (and quantizing) it first if absent.

    Parameters
    ----------
    fields : dict
        ``revision``, ``config_revision``, ``layers`` (sorted tuple), ``quantize`` (None or "int8"),
        ``recipe`` (one of :data:`INT8_RECIPES`, with ``quantize`` only), ``packed`` (True for the
        packed inputs of :mod:`._packing`; absent otherwise) and anything else that changes the
        graph; hashed into the folder name.
    load_model : callable
        ``load_model(eager)`` returns ``(model, token_types, forward_kwargs)``: a float32 CPU
        torch model in eval mode (with the eager attention implementation when ``eager``, which
        a fused export asks for), whether it takes ``token_type_ids``, and extra keyword
        arguments for its forward.
    make_feeds : callable
        ``make_feeds(token_types, packed)`` returns a feed to trace with, a feed of another shape
        to check the export on, the torch feed of the same inputs (padded, one per row) and, for
        each real token of that torch feed in row-major order, its index in the check output's
        flattened ``(rows * width)`` positions.
    """
    root = onnx_cache_dir() if root is None else root
    dest = root / export_name(fields)
    if (dest / _MODEL_FILE).is_file():
        return dest / _MODEL_FILE
    try:
        if fields["quantize"] is None:
            _export(dest, fields, load_model, make_feeds)
        else:
            fp32 = {k: v for k, v in fields.items() if k != "recipe"}
            if not recipe_is_fused(fields.get("recipe", "dynamic")):
                fp32.pop("fusion", None)  # plain-graph recipes quantize the plain fp32 export
            source = ensure_exported({**fp32, "quantize": None}, load_model, make_feeds, root=root)
            _quantize(source, dest, fields)
    except CacheError:
        raise
    except OSError as exc:
        raise CacheError(
            f"Could not write the ONNX export to '{dest}': {exc}. Point HEADWISE_CACHE_DIR at a "
            "writable folder, or delete that folder if it is left over from an older run."
        ) from exc
    return dest / _MODEL_FILE


@contextlib.contextmanager
def _staging(dest: Path) -> Any:
    """A temporary folder beside ``dest``, renamed to ``dest`` on success and removed otherwise."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        yield tmp
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / _MODEL_FILE).is_file():  # not a concurrent writer that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_meta(folder: Path, fields: dict[str, Any], **extra: Any) -> None:
    meta = {**fields, "opset": OPSET, "export_version": _EXPORT_VERSION, **extra}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")


def _export(
    dest: Path,
    fields: dict[str, Any],
    load_model: ModelLoader,
    make_feeds: FeedMaker,
) -> None:
    torch = importlib.import_module("torch")
    fusable, packed = bool(fields.get("fusion")), bool(fields.get("packed"))
    model, token_types, kwargs = load_model(fusable)
    layers = list(fields["layers"])
    wrapper = _layer_outputs(
        torch, model, layers, kwargs, fusable, packed
    ).eval()  # export restores the wrapper's mode
    positions = ["segment_ids", "position_ids"] if packed else ["attention_mask"]
    inputs = ["input_ids", *positions] + (["token_type_ids"] if token_types else [])
    outputs = [_output_name(layer) for layer in layers]
    sample, check, reference, tokens = make_feeds(token_types, packed)
    with _staging(dest) as tmp:
        with warnings.catch_warnings():  # tracer and deprecation chatter
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(torch.from_numpy(sample[name]) for name in inputs),
                str(tmp / _MODEL_FILE),
                dynamo=False,
                input_names=inputs,
                output_names=outputs,
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in inputs + outputs},
                opset_version=OPSET,
                do_constant_folding=True,
            )
        checks = (check, reference, tokens)
        error = _check_export(tmp / _MODEL_FILE, model, kwargs, checks, layers, torch)
        fusion: dict[str, Any] = {}
        if fields.get("fusion"):
            fusion = _try_fusion(tmp, fields["fusion"], model, kwargs, checks, layers, torch)
        _write_meta(tmp, fields, max_abs_diff_vs_torch=error, torch=torch.__version__, **fusion)


def _try_fusion(
    folder: Path,
    spec: dict[str, Any],
    model: Any,
    kwargs: dict[str, Any],
    checks: tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray],
    layers: list[int],
    torch: Any,
) -> dict[str, Any]:
    """Replace ``folder``'s export by its fused graph when that reproduces torch; say what happened."""
    from ._onnx_fuse import fuse_export

    fused = folder / "fused.onnx"
    try:
        ops = fuse_export(folder / _MODEL_FILE, fused, spec)
        error = _check_export(fused, model, kwargs, checks, layers, torch)
    except Exception as exc:  # noqa: BLE001 - fusion is an optimisation: keep the checked export
        fused.unlink(missing_ok=True)
        return {"fused_ops": {}, "fusion_skipped": f"{type(exc).__name__}: {exc}"[:500]}
    os.replace(fused, folder / _MODEL_FILE)
    return {"fused_ops": ops, "fused_max_abs_diff_vs_torch": error}


def _layer_outputs(
    torch: Any,
    model: Any,
    layers: list[int],
    kwargs: dict[str, Any],
    fusable: bool = False,
    packed: bool = False,
) -> Any:
    """The module that is exported: ids, 0/1 mask (and token types) in, hidden states out.

    The 0/1 mask becomes an additive bias: ``(batch, 1, 1, width)``, or, for a graph that is to
    be fused, ``(batch, 1, width, width)`` built as transformers 4 built it (expand, invert, fill
    with the dtype's minimum), the pattern ONNX Runtime's transformer optimizer recognises.
    ``packed``: ids, segment ids, position ids (and token types) in; a query attends to the keys
    of its own segment (segment 0 is padding), a ``(batch, 1, width, width)`` bias.
    """

    class LayerOutputs(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, *rest: Any) -> Any:
            # packed: ``attention_mask`` holds the segment ids and ``rest[0]`` the position ids
            dtype = torch.float32
            extra: dict[str, Any] = {}
            if packed:
                segments, extra["position_ids"], rest = attention_mask, rest[0], rest[1:]
                same = segments[:, None, :, None] == segments[:, None, None, :]
                keep = same & (segments > 0)[:, None, None, :]
                bias = (1.0 - keep.to(dtype)) * torch.finfo(dtype).min
            elif fusable:
                batch, width = attention_mask.shape
                wide = attention_mask[:, None, None, :].expand(batch, 1, width, width).to(dtype)
                inverted = 1.0 - wide
                bias = inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)
            else:
                bias = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
            if rest:
                extra["token_type_ids"] = rest[0]
            out = self.model(
                input_ids=input_ids,
                attention_mask=bias,
                output_hidden_states=True,
                return_dict=True,
                **extra,
                **kwargs,
            )
            return tuple(out.hidden_states[layer] for layer in layers)

    return LayerOutputs()


def _check_export(
    path: Path,
    model: Any,
    forward_kwargs: dict[str, Any],
    checks: tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray],
    layers: list[int],
    torch: Any,
) -> float:
    """Compare the export with the model called as the torch backend calls it, on real tokens.

    ``checks`` is the feed the export runs on, the padded torch feed of the same inputs, and the
    position in the export's flattened output of each real token of the torch feed.
    """
    feed, reference, tokens = checks
    got = OnnxSession(path).run(feed, layers)
    mask = reference["attention_mask"].astype(bool)
    with torch.inference_mode():
        kwargs = {name: torch.from_numpy(value) for name, value in reference.items()}
        out = model(**kwargs, output_hidden_states=True, return_dict=True, **forward_kwargs)
    worst = 0.0
    for layer in layers:
        ref = out.hidden_states[layer].float().numpy()[mask]
        mine = got[layer].reshape(-1, got[layer].shape[-1])[tokens]
        diff = float(np.abs(mine - ref).max())
        worst = max(worst, diff)
        if not diff <= _CHECK_RTOL * max(1.0, float(np.abs(ref).max())):
            raise HeadwiseError(
                f"The ONNX export of layer {layer} does not reproduce torch (max |difference| "
                f"{diff:.3g} on a padded batch), so this model cannot use backend='onnx'; "
                "use backend='torch'."
            )
    return worst


@contextlib.contextmanager
def _quiet_root_logger() -> Any:
    """Drop onnxruntime.quantization's root-logger advice to pre-process (measured: no gain)."""

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _quantize(source: Path, dest: Path, fields: dict[str, Any]) -> None:
    try:
        quantization = importlib.import_module("onnxruntime.quantization")
    except ImportError as exc:
        raise MissingDependencyError(
            f"quantize='int8' needs onnxruntime.quantization and onnx, which could not be "
            f"imported ({exc}). pip install 'headwise[onnx]'"
        ) from exc
    recipe = fields.get("recipe", "dynamic")
    if recipe not in INT8_RECIPES:
        raise HeadwiseError(
            f"Unknown int8 recipe {recipe!r}; expected one of {', '.join(map(repr, INT8_RECIPES))}."
        )
    keep = contracting_matmuls(source) if recipe.endswith("-ffn-down-fp32") else []
    with _staging(dest) as tmp, _quiet_root_logger():
        quantization.quantize_dynamic(
            source,
            tmp / _MODEL_FILE,
            per_channel=True,
            reduce_range=False,
            weight_type=quantization.QuantType.QInt8,
            nodes_to_exclude=keep,
            # The fused graph's contrib operators have no shape-inference types: say float.
            extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
        )
        _write_meta(tmp, fields, source=source.parent.name, fp32_nodes=keep)


def recipe_is_fused(recipe: str) -> bool:
    """Whether ``recipe`` quantizes the fused fp32 graph (``fused-*``) rather than the plain one.

    >>> recipe_is_fused("fused-dynamic"), recipe_is_fused("dynamic")
    (True, False)
    """
    return recipe.startswith("fused-")


def contracting_matmuls(path: Path) -> list[str]:
    """Names of the MatMul nodes whose constant weight has more rows than columns.

    In a transformer encoder these are the FFN down-projections (intermediate -> hidden); every
    other projection is square or widening. Read from the graph, not from node names, so any
    exported architecture is handled alike.
    """
    onnx = importlib.import_module("onnx")
    model = onnx.load(str(path), load_external_data=False)
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul"
        and len(shapes.get(node.input[1], ())) == 2
        and shapes[node.input[1]][0] > shapes[node.input[1]][1]
    ]
