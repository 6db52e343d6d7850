"""A statically quantized model's state as a safetensors file, and back.

safetensors holds plain tensors only, so each int8 tensor is stored as its integer values plus
its scales and zero points, and the packed Linear parameters and dtypes of ``torch.ao``'s
state dict as a JSON layout in the file's metadata. Loading rebuilds the quantized graph from
the fp32 architecture (a throwaway calibration on zeros gives the structure) and then loads
the stored state into it, so the served model is bit-for-bit the calibrated one and needs no
training data.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import Tensor, nn

from neuroplast.errors import ArtifactError

__all__ = ["STATIC_INT8", "dump_quantized", "load_quantized"]

#: The artifact of a static int8 version that holds its calibrated int8 state.
STATIC_INT8 = "model.int8.safetensors"
_LAYOUT = "neuroplast.quantized_layout"
_VERSIONS = "neuroplast.module_versions"


def _pack(key: str, value: Any, tensors: dict[str, Tensor]) -> dict[str, Any]:
    if isinstance(value, torch.dtype):
        return {"kind": "dtype", "value": str(value).removeprefix("torch.")}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, tuple | list):
        return {
            "kind": "seq",
            "items": [_pack(f"{key}#{i}", v, tensors) for i, v in enumerate(value)],
        }
    if not isinstance(value, Tensor):
        raise ArtifactError(f"cannot store {key!r} of type {type(value).__name__} in safetensors")
    if not value.is_quantized:
        tensors[key] = value.detach().contiguous().clone()
        return {"kind": "tensor"}
    tensors[f"{key}#int"] = value.int_repr().contiguous()
    dtype = str(value.dtype).removeprefix("torch.")
    if value.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        tensors[f"{key}#scale"] = value.q_per_channel_scales().contiguous()
        tensors[f"{key}#zero_point"] = value.q_per_channel_zero_points().contiguous()
        return {"kind": "per_channel", "dtype": dtype, "axis": int(value.q_per_channel_axis())}
    return {
        "kind": "per_tensor",
        "dtype": dtype,
        "scale": float(value.q_scale()),
        "zero_point": int(value.q_zero_point()),
    }


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{name!r} is not a torch dtype")
    return dtype


def _unpack(key: str, entry: dict[str, Any], tensors: dict[str, Tensor]) -> Any:
    kind = entry["kind"]
    if kind == "dtype":
        return _dtype(entry["value"])
    if kind == "none":
        return None
    if kind == "seq":
        return tuple(_unpack(f"{key}#{i}", e, tensors) for i, e in enumerate(entry["items"]))
    if kind == "tensor":
        return tensors[key]
    values = tensors[f"{key}#int"]
    dtype = _dtype(entry["dtype"])
    if kind == "per_channel":
        return _per_channel(values, tensors, key, int(entry["axis"]), dtype)
    return _per_tensor(values, entry, dtype)


# Quantizing the dequantized values again with the same scales and zero points gives back
# exactly the stored integers (public API; no private constructors).
def _per_channel(
    values: Tensor, tensors: dict[str, Tensor], key: str, axis: int, dtype: torch.dtype
) -> Tensor:
    scales = tensors[f"{key}#scale"].double()
    zero_points = tensors[f"{key}#zero_point"].long()
    shape = [1] * values.dim()
    shape[axis] = -1
    real = (values.double() - zero_points.view(shape)) * scales.view(shape)
    return torch.quantize_per_channel(real.float(), scales, zero_points, axis, dtype)


def _per_tensor(values: Tensor, entry: dict[str, Any], dtype: torch.dtype) -> Tensor:
    scale, zero_point = float(entry["scale"]), int(entry["zero_point"])
    real = (values.double() - zero_point) * scale
    return torch.quantize_per_tensor(real.float(), scale, zero_point, dtype)


def _metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes: an 8-byte little-endian header length,
    then the JSON header."""
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    return dict(header.get("__metadata__") or {})


def _shapes(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_shapes(v) for v in value]
    return tuple(value.shape) if isinstance(value, Tensor) else repr(value)


def _check_shapes(expected: dict[str, Any], state: dict[str, Any]) -> None:
    """torch.ao's packed Linear parameters load whatever shape they are given: compare first."""
    if set(expected) != set(state):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise KeyError(f"missing {missing[:3]}, unexpected {extra[:3]}")
    for key, value in expected.items():
        if _shapes(value) != _shapes(state[key]):
            raise ValueError(f"{key}: stored {_shapes(state[key])}, model {_shapes(value)}")


def dump_quantized(model: nn.Module) -> bytes:
    """The safetensors bytes of a quantized model's state dict (layout in the metadata)."""
    tensors: dict[str, Tensor] = {}
    state = model.state_dict()
    layout = {key: _pack(key, value, tensors) for key, value in state.items()}
    # torch.ao's modules read their state by the version recorded with it
    versions = dict(getattr(state, "_metadata", {}) or {})
    return save_tensors(
        tensors, metadata={_LAYOUT: json.dumps(layout), _VERSIONS: json.dumps(versions)}
    )


def load_quantized(structure: nn.Module, data: bytes, *, source: str) -> nn.Module:
    """Load :func:`dump_quantized` bytes into ``structure``, a quantized model of the same
    architecture (whatever its calibration); returns ``structure``."""
    try:
        tensors = load_tensors(data)
        metadata = _metadata(data)
        layout = json.loads(metadata[_LAYOUT])
        state = OrderedDict((key, _unpack(key, entry, tensors)) for key, entry in layout.items())
        state._metadata = json.loads(metadata[_VERSIONS])  # type: ignore[attr-defined]
        _check_shapes(structure.state_dict(), state)
        structure.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise ArtifactError(
            f"{source} does not hold the int8 state of this architecture ({e}); "
            "re-run `neuroplast compress PARENT --quantize static`"
        ) from e
    except Exception as e:  # safetensors raises its own SafetensorError
        raise ArtifactError(f"{source} is not a readable safetensors file: {e}") from e
    return structure
