"""Model signatures in MLflow's JSON form: inferred from an example, checked against inputs.

A schema is either columns (`[{"type": "double", "name": "alcohol", "required": true}, ...]`, the
name absent for a single unnamed column) or one tensor
(`[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 11]}}]`).
`enforce()` turns an input into what the signature promises, or raises SchemaError saying what
was expected; the scoring server answers that message with a 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tracklet.errors import InvalidParameterValue

__all__ = ["ColSpec", "Schema", "SchemaError", "Signature", "TensorSpec", "infer_schema", "to_frame"]


class SchemaError(InvalidParameterValue):
    """An input does not match the model's signature."""


# MLflow's column types and the numpy dtypes that hold them.
_NUMPY_BY_TYPE: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


def _type_of_dtype(dtype: Any) -> str:
    dtype = np.dtype(dtype) if not isinstance(dtype, pd.api.extensions.ExtensionDtype) else dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer" if np.dtype(dtype).itemsize <= 4 else "long"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if np.dtype(dtype).itemsize <= 4 else "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def _type_of_values(values: pd.Series) -> str:
    if values.dtype != object:
        return _type_of_dtype(values.dtype)
    kinds = {type(v) for v in values.dropna()}
    if kinds and all(issubclass(k, (bytes, bytearray)) for k in kinds):
        return "binary"
    return "string"


@dataclass(frozen=True)
class ColSpec:
    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    def describe(self) -> str:
        return f"{self.name!r}: {self.type}" if self.name is not None else self.type


@dataclass(frozen=True)
class TensorSpec:
    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            out["name"] = self.name
        return out

    def describe(self) -> str:
        shape = "(" + ", ".join("any" if d == -1 else str(d) for d in self.shape) + ")"
        return f"a {self.dtype} array of shape {shape}"


@dataclass(frozen=True)
class Schema:
    columns: tuple[ColSpec, ...] = ()
    tensor: TensorSpec | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns if c.name is not None]

    def to_json(self) -> str:
        specs = [self.tensor.to_dict()] if self.tensor else [c.to_dict() for c in self.columns]
        return json.dumps(specs)

    @classmethod
    def from_json(cls, text: str) -> Schema:
        specs = json.loads(text)
        if specs and specs[0].get("type") == "tensor":
            spec = specs[0]["tensor-spec"]
            return cls(tensor=TensorSpec(spec["dtype"], tuple(spec["shape"]), specs[0].get("name")))
        return cls(columns=tuple(ColSpec(s["type"], s.get("name"), bool(s.get("required", True))) for s in specs))

    def describe(self) -> str:
        if self.tensor:
            return self.tensor.describe()
        if not self.names:
            return "a single column of " + self.columns[0].type if self.columns else "anything"
        return "columns " + ", ".join(c.describe() for c in self.columns)


@dataclass(frozen=True)
class Signature:
    inputs: Schema | None = None
    outputs: Schema | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Signature | None:
        if not d:
            return None
        inputs = Schema.from_json(d["inputs"]) if d.get("inputs") else None
        outputs = Schema.from_json(d["outputs"]) if d.get("outputs") else None
        return cls(inputs, outputs)


# --- inference ---------------------------------------------------------------------------------


def infer_schema(example: Any) -> Schema:
    """The schema of an example input or output.

    DataFrame, dict of columns and list of records give named columns; a 1-D array, Series or list of
    scalars one unnamed column; a numpy array of 2 or more dimensions a tensor.
    """
    if isinstance(example, np.ndarray) and example.ndim >= 2:
        return Schema(tensor=TensorSpec(str(example.dtype), (-1, *example.shape[1:])))
    if isinstance(example, (np.ndarray, pd.Series)) or (
        isinstance(example, list) and example and not isinstance(example[0], dict)
    ):
        values = pd.Series(np.asarray(example) if not isinstance(example, pd.Series) else example)
        return Schema(columns=(ColSpec(_type_of_values(values)),))
    frame = to_frame(example)
    return Schema(
        columns=tuple(
            ColSpec(_type_of_values(frame[c]), str(c), not bool(frame[c].isna().any())) for c in frame.columns
        )
    )


def to_frame(data: Any, names: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a dict of columns, a list of records or a 2-D array."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        return pd.DataFrame({k: v if isinstance(v, (list, np.ndarray)) else [v] for k, v in data.items()})
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame.from_records(data)
    array = np.asarray(data)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise SchemaError(f"expected a table of rows, got an array of shape {array.shape}")
    if names is not None and len(names) == array.shape[1]:
        return pd.DataFrame(array, columns=names)
    return pd.DataFrame(array)


# --- enforcement -------------------------------------------------------------------------------


def enforce(data: Any, schema: Schema) -> Any:
    """`data` converted to what `schema` describes; SchemaError saying what was expected otherwise."""
    if schema.tensor is not None:
        return _enforce_tensor(data, schema.tensor)
    if not schema.names:
        return _enforce_unnamed(data, schema.columns[0] if schema.columns else None)
    return _enforce_columns(to_frame(data, schema.names), schema)


def _enforce_columns(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    expected = "expected " + schema.describe()
    present = {str(c) for c in frame.columns}
    missing = [c.name for c in schema.columns if c.required and c.name not in present]
    if missing:
        got = ", ".join(repr(str(c)) for c in frame.columns) or "none"
        raise SchemaError(f"missing columns {', '.join(map(repr, missing))} (got {got}); {expected}")
    frame = frame.rename(columns=str)
    out: dict[str, Any] = {}
    for spec in schema.columns:
        assert spec.name is not None
        if spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if spec.required and column.isna().any():
            raise SchemaError(f"column {spec.name!r} has missing values but is required; {expected}")
        out[spec.name] = _convert(column, spec, expected)
    return pd.DataFrame(out, index=frame.index)


def _convert(column: pd.Series, spec: ColSpec, expected: str) -> pd.Series:
    name = spec.name if spec.name is not None else "input"
    got = _type_of_values(column)
    if got == spec.type:
        return column
    if spec.type in ("double", "float") and got in ("integer", "long", "float", "double"):
        return column.astype(_NUMPY_BY_TYPE[spec.type])
    if spec.type == "long" and got == "integer":
        return column.astype("int64")
    if spec.type == "datetime" and got == "string":
        try:
            return pd.to_datetime(column)
        except (ValueError, TypeError):
            pass
    if spec.type in ("double", "float", "long", "integer") and got in ("double", "float"):
        # JSON has one number type: 3.0 for a long column is fine, 3.5 is not.
        values = column.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return column.astype(_NUMPY_BY_TYPE[spec.type])
    raise SchemaError(f"column {name!r} holds {got} values but {spec.type} was expected; {expected}")


def _enforce_unnamed(data: Any, spec: ColSpec | None) -> Any:
    if spec is None:
        return data
    frame = to_frame(data)
    if frame.shape[1] != 1:
        raise SchemaError(f"expected a single column of {spec.type}, got {frame.shape[1]} columns")
    return _convert(frame.iloc[:, 0], spec, f"expected a single column of {spec.type}").to_frame()


def _enforce_tensor(data: Any, spec: TensorSpec) -> np.ndarray:
    expected = "expected " + spec.describe()
    try:
        array = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"input is not an array ({exc}); {expected}") from None
    if array.ndim != len(spec.shape) or any(
        want != -1 and have != want for have, want in zip(array.shape, spec.shape, strict=False)
    ):
        raise SchemaError(f"input has shape {array.shape}; {expected}")
    want = np.dtype(spec.dtype)
    if array.dtype == want:
        return array
    if np.can_cast(array.dtype, want, casting="safe") or (want.kind == "f" and array.dtype.kind in "iuf"):
        return array.astype(want)
    raise SchemaError(f"input holds {array.dtype} values; {expected}")
