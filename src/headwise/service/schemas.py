"""Request and response bodies (pydantic: used only at the HTTP boundary)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from .._validation import check_unicode

__all__ = [
    "DeleteResponse",
    "EmbedRequest",
    "EmbedResponse",
    "ErrorBody",
    "ExampleInfo",
    "ExamplesList",
    "ExamplesRequest",
    "ExamplesResponse",
    "ModelInfo",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
    "RollbackRequest",
    "VersionInfo",
    "VersionsResponse",
]

Label = StrictStr | StrictInt


class _Body(BaseModel):
    # strict: a value of another JSON type is refused, not converted ("0.1" or true as a number,
    # "yes" as a boolean, true as rollback's version 1); a whole number is still a float
    model_config = ConfigDict(extra="forbid", strict=True)


class _Rows(_Body):
    texts: list[str] | None = Field(None, description="Raw texts, embedded by the model's encoder.")
    embeddings: list[list[float]] | None = Field(
        None, description="Precomputed embeddings, one list of floats per row (the head's width)."
    )

    @model_validator(mode="after")
    def _one_input(self) -> _Rows:
        if (self.texts is None) == (self.embeddings is None):
            raise ValueError("give exactly one of 'texts' or 'embeddings'")
        if not (self.texts or self.embeddings):
            raise ValueError("'texts' / 'embeddings' must hold at least one row")
        return self

    @property
    def n_rows(self) -> int:
        return len(self.texts if self.texts is not None else self.embeddings or [])


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, in one line.")
    hint: str = Field(description="What to do about it.")


class PredictRequest(_Rows):
    alpha: float | None = Field(
        None, gt=0, lt=1, description="Miscoverage of the conformal sets (default: the model's)."
    )
    top_k: int = Field(3, ge=1, le=1000, description="How many most probable labels to list.")
    include_logits: bool = Field(False, description="Also return the raw logits (classes order).")


class Scored(BaseModel):
    label: Label
    probability: float


class Prediction(BaseModel):
    label: Label
    top_k: list[Scored]
    prediction_set: list[Label] | None = Field(
        description="Labels in the conformal set at alpha, most probable first; null without "
        "calibration."
    )
    ood_score: float = Field(description="Larger = more likely none of the known classes.")
    ood: bool | None = Field(description="Flagged at the conformal OOD threshold for alpha.")
    logits: list[float | None] | None = None


class PredictResponse(BaseModel):
    model: str
    version: int
    alpha: float
    conformal_method: str
    predictions: list[Prediction]


class EmbedRequest(_Body):
    texts: list[str] = Field(min_length=1)
    encoder: str | None = Field(None, description="Encoder spec; optional when only one is loaded.")


class EmbedResponse(BaseModel):
    encoder: str
    dim: int
    embeddings: list[list[float]]


class ExamplesRequest(_Rows):
    labels: list[Label] = Field(description="One label per row; new classes are allowed.")
    role: Literal["auto", "train", "calibration"] = Field(
        "auto",
        description="'train' rows are learned, 'calibration' rows calibrate the conformal sets "
        "(never both); 'auto' keeps every 1/calib_fraction-th row of a class for calibration "
        "when the model is calibrated.",
    )

    @model_validator(mode="after")
    def _one_label_per_row(self) -> ExamplesRequest:
        if len(self.labels) != self.n_rows:
            raise ValueError(f"{self.n_rows} rows but {len(self.labels)} labels; give one per row")
        for i, label in enumerate(self.labels):
            if isinstance(label, str) and not label.strip():
                raise ValueError(f"label {i} is empty; give every row a label")
            if isinstance(label, str) and not label.isascii():
                try:
                    check_unicode(label, f"label {i}")
                except ValueError as exc:  # pydantic ends the message with its own full stop
                    raise ValueError(str(exc).rstrip(".")) from None
        return self


class ExamplesResponse(BaseModel):
    model: str
    version: int
    ids: list[int]
    roles: list[str]


class ExampleInfo(BaseModel):
    id: int
    label: Label
    role: str
    version: int
    text: str | None
    embedding: list[float] | None = None


class ExamplesList(BaseModel):
    model: str
    version: int
    examples: list[ExampleInfo]
    next_after: int | None = Field(description="Pass as ?after= for the next page; null at the end.")


class DeleteResponse(BaseModel):
    model: str
    version: int
    deleted: int
    purged: bool


class RollbackRequest(_Body):
    version: int = Field(ge=0, description="The version whose rows the model goes back to.")


class VersionInfo(BaseModel):
    version: int
    created: float
    action: str
    detail: dict[str, Any]
    n_train: int
    n_calibration: int


class VersionsResponse(BaseModel):
    model: str
    current: int
    versions: list[VersionInfo]


class ModelInfo(BaseModel):
    name: str
    version: int
    head: str
    params: dict[str, Any]
    classes: list[Label]
    n_classes: int
    n_features: int
    encoder: str | None
    encoder_options: dict[str, Any]
    encoder_key: dict[str, Any] | None
    learns_online: bool
    why_not: str | None
    writable: bool
    calibration: dict[str, Any] | None
    conformal_method: str
    mondrian: bool
    default_alpha: float
    ood_method: str
    examples: dict[str, int]


class ModelList(BaseModel):
    models: list[ModelInfo]
