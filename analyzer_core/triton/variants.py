"""Model configuration variants: read ``config.pbtxt``, derive variants, write them out.

Configs are parsed and written with protobuf's text format against Triton's own
``ModelConfig`` message (shipped in tritonclient), and stored in checkpoints as
protobuf JSON with the ``.proto`` field names (``max_batch_size``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from analyzer_core.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariantSettings:
    """The parameters a search changes; None keeps the default config's value."""

    instance_count: int | None = None
    max_batch_size: int | None = None
    dynamic_batching: bool | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    @property
    def is_default(self) -> bool:
        return self == VariantSettings()


def read_model_config(model_directory: Path) -> dict[str, Any]:
    """Parse ``<model_directory>/config.pbtxt`` into a protobuf-JSON dict."""
    path = model_directory / "config.pbtxt"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"Model {model_directory.name!r} has no config.pbtxt at {path}; "
            "write one (this tool does not use Triton's auto-complete)."
        ) from None
    message = model_config_pb2.ModelConfig()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        raise ConfigError(f"Invalid model configuration {path}: {error}") from error
    if not message.name:
        message.name = model_directory.name
    return config_to_dict(message)


def config_to_dict(message: model_config_pb2.ModelConfig) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def config_to_pbtxt(config: dict[str, Any]) -> str:
    """Render a protobuf-JSON config as ``config.pbtxt`` text."""
    message = json_format.ParseDict(config, model_config_pb2.ModelConfig())
    return text_format.MessageToString(message)


def apply_settings(
    default_config: dict[str, Any], settings: VariantSettings, instance_kind: str
) -> dict[str, Any]:
    """Return a copy of ``default_config`` with ``settings`` applied."""
    config = json.loads(json.dumps(default_config))
    if settings.instance_count is not None:
        config["instance_group"] = [
            {"count": settings.instance_count, "kind": instance_kind}
        ]
    if settings.max_batch_size is not None:
        config["max_batch_size"] = settings.max_batch_size
    if settings.dynamic_batching:
        config.setdefault("dynamic_batching", {})
    elif settings.dynamic_batching is False:
        config.pop("dynamic_batching", None)
    for dotted_key, value in settings.extra:
        _set_dotted(config, dotted_key, value)
    # Validate against Triton's schema so a bad manual parameter fails here, not in Triton.
    try:
        json_format.ParseDict(config, model_config_pb2.ModelConfig())
    except json_format.ParseError as error:
        raise ConfigError(
            f"Invalid model config parameter in {settings}: {error}"
        ) from error
    return config


def _set_dotted(config: dict[str, Any], dotted_key: str, value: Any) -> None:
    node = config
    *parents, leaf = dotted_key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def config_identity(config: dict[str, Any]) -> str:
    """Return a canonical text for comparing configs regardless of their ``name``."""
    without_name = {key: value for key, value in config.items() if key != "name"}
    return json.dumps(without_name, sort_keys=True)


def write_variant(
    output_repository: Path,
    model_directory: Path,
    variant_name: str,
    config: dict[str, Any],
) -> Path:
    """Write a variant as a model directory: its config, and links to the model's files."""
    variant_directory = output_repository / variant_name
    variant_directory.mkdir(parents=True, exist_ok=True)
    named = dict(config, name=variant_name)
    (variant_directory / "config.pbtxt").write_text(config_to_pbtxt(named))
    for item in model_directory.iterdir():
        if item.name == "config.pbtxt":
            continue
        link = variant_directory / item.name
        if link.is_symlink() or link.exists():
            if link.is_symlink() and link.resolve() == item.resolve():
                continue
            if link.is_dir() and not link.is_symlink():
                raise ConfigError(
                    f"{link} is a directory this tool did not create; remove it."
                )
            link.unlink()
        link.symlink_to(item.resolve())
    return variant_directory
