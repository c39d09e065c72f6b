"""Write a variant's model configuration as config.pbtxt text."""

from __future__ import annotations

from google.protobuf import json_format, text_format
from tritonclient.grpc import model_config_pb2

from analyzer_core.records import Variant


class ModelConfigError(ValueError):
    """A variant's config does not parse as Triton's ModelConfig message."""


def config_pbtxt(variant: Variant) -> str:
    """Return ``variant.config`` in protobuf text format, as Triton reads it.

    The config is parsed into ``tritonclient``'s ModelConfig message, so a key
    that Triton does not know raises ModelConfigError instead of producing a
    file the server would reject.
    """
    message = model_config_pb2.ModelConfig()
    try:
        json_format.ParseDict(variant.config, message)
    # protobuf 4.25 raises OverflowError, not ParseError, for an enum given as
    # an infinite float.
    except (json_format.ParseError, OverflowError) as error:
        raise ModelConfigError(
            f"The config of variant {variant.name} is not a valid Triton model "
            f"config: {error}"
        ) from error
    return text_format.MessageToString(message)
