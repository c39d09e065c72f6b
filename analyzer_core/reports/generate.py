"""Write the tables, summary and detailed reports of one checkpoint.

``generate_reports`` is the one entry point of the ``report`` command and of
the dashboard. Files land under the export path:

- ``results/metrics-model-inference-ckpt<N>.csv`` (and ``-gpu``,
  ``-server-only``): Model Analyzer's tables, with the checkpoint index in the
  name so reports of different checkpoints never overwrite each other;
- ``reports/summaries/<model>/summary-ckpt<N>.pdf``, and the best variant's
  ``reports/summaries/<model>/ckpt<N>/config.pbtxt``, which keeps the file name
  Triton loads;
- ``reports/detailed/<variant>/detailed-ckpt<N>.pdf``.

Every requested model and variant is checked before anything is written.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from analyzer_core.checkpoints.store import LoadedCheckpoint, load_checkpoint
from analyzer_core.errors import AnalyzerError, CheckpointError
from analyzer_core.files import write_atomically
from analyzer_core.reports.context import ReportContext
from analyzer_core.reports.detailed import detailed_pdf
from analyzer_core.reports.render import ChartSession
from analyzer_core.reports.summary import best_config_text, summary_pdf
from analyzer_core.results.ranking import RankingSettings
from analyzer_core.results.tables import write_tables

logger = logging.getLogger(__name__)


class ReportRequestError(AnalyzerError):
    """A requested model or variant is not in the checkpoint."""


@dataclass
class ReportOutput:
    """Paths of the files one ``generate_reports`` call wrote, and its warnings."""

    checkpoint_index: int
    summaries: dict[str, Path] = field(default_factory=dict)
    """Summary PDF per model."""
    detailed: dict[str, Path] = field(default_factory=dict)
    """Detailed PDF per variant."""
    tables: dict[str, Path] = field(default_factory=dict)
    """CSV table per kind: ``inference``, ``gpu`` (with GPU data), ``server_only``."""
    configs: dict[str, Path] = field(default_factory=dict)
    best_variants: dict[str, str] = field(default_factory=dict)
    """The variant each entry of ``configs`` comes from, by model."""
    """config.pbtxt of the best variant, per model."""
    warnings: list[str] = field(default_factory=list)


def load_for_report(directory: Path, index: int | None = None) -> LoadedCheckpoint:
    """Load checkpoint ``index`` (default: the newest), raising CheckpointError."""
    loaded = load_checkpoint(Path(directory), index)
    if loaded is None:
        raise CheckpointError(
            f"No checkpoint found in {directory}; create one with "
            f"'python -m analyzer_core profile --checkpoint-directory {directory}'."
        )
    return loaded


def report_context(
    loaded: LoadedCheckpoint, settings: RankingSettings | None = None
) -> ReportContext:
    """Wrap a loaded checkpoint with its index, its save time and the settings."""
    saved = loaded.data.saved_at
    if not saved:
        try:
            saved = loaded.path.stat().st_mtime
        except OSError:
            saved = time.time()
    return ReportContext(
        loaded.data, loaded.index, saved, settings or RankingSettings()
    )


def generate_reports(
    checkpoint_directory: Path,
    export_path: Path,
    index: int | None = None,
    settings: RankingSettings | None = None,
    models: list[str] | None = None,
    variants: list[str] | None = None,
    detailed: bool = True,
) -> ReportOutput:
    """Write tables and reports of one checkpoint and return what was written.

    ``models`` (default: ``settings.models``, else every model) selects the
    summaries; ``variants`` selects the detailed reports (default: every
    variant of the selected models). Raises CheckpointError when there is no
    checkpoint and ReportRequestError for a model or variant it does not
    hold, in both cases before creating any file.
    """
    loaded = load_for_report(checkpoint_directory, index)
    context = report_context(loaded, settings)
    chosen_models = select_models(context, models or context.settings.models, variants)
    chosen_variants = (
        select_variants(context, chosen_models, variants) if detailed else []
    )

    output = ReportOutput(loaded.index)
    export_path = Path(export_path)
    output.tables = write_tables(
        context.data,
        export_path,
        index=loaded.index,
        rankings=context.rankings(chosen_models),
    )
    charts = ChartSession()
    for model in chosen_models:
        _write_summary(context, model, export_path, charts, output)
    for variant in chosen_variants:
        _write_detailed(context, variant, export_path, charts, output)
    output.warnings.extend(charts.warnings)
    logger.info(
        "Wrote %d summary and %d detailed reports for checkpoint %d under %s",
        len(output.summaries),
        len(output.detailed),
        loaded.index,
        export_path,
    )
    return output


def select_models(
    context: ReportContext, models: list[str] | None, variants: list[str] | None
) -> list[str]:
    """Return the models to summarise, raising ReportRequestError for unknown ones."""
    known = context.data.models()
    if models:
        _require_known("model", models, known, context)
        return list(dict.fromkeys(models))
    if variants:
        _require_known("variant", variants, _variant_names(context), context)
        return list(dict.fromkeys(_model_of(context, name) for name in variants))
    return known


def select_variants(
    context: ReportContext, models: list[str], variants: list[str] | None
) -> list[str]:
    """Return the variants to report in detail, raising for unknown ones.

    By default these are the measured variants of ``models``; a variant named
    in ``variants`` is kept even without measurements, and gets a warning.
    """
    if variants:
        _require_known("variant", variants, _variant_names(context), context)
        return list(dict.fromkeys(variants))
    measured = {m.variant for m in context.data.measurements}
    return [
        name
        for name in _variant_names(context)
        if name in measured and _model_of(context, name) in models
    ]


def _variant_names(context: ReportContext) -> list[str]:
    data = context.data
    names = list(data.variants) + [m.variant for m in data.measurements]
    return list(dict.fromkeys(names))


def _model_of(context: ReportContext, variant: str) -> str:
    if variant in context.data.variants:
        return context.data.variants[variant].model
    return next(m.model for m in context.data.measurements if m.variant == variant)


def _require_known(
    kind: str, requested: list[str], known: list[str], context: ReportContext
) -> None:
    missing = [name for name in requested if name not in known]
    if not missing:
        return
    listed = ", ".join(known) or "none"
    raise ReportRequestError(
        f"{kind.capitalize()} {', '.join(missing)} not found in checkpoint "
        f"{context.index} (it contains: {listed}); profile it with 'python -m "
        f"analyzer_core profile --profile-models <model>' or pick another "
        f"--checkpoint-index."
    )


def _write_summary(
    context: ReportContext,
    model: str,
    export_path: Path,
    charts: ChartSession,
    output: ReportOutput,
) -> None:
    ranking = context.ranking(model)
    if not ranking.entries:
        message = (
            f"Model {model} has no successful measurement in checkpoint "
            f"{context.index}; no summary report written for it."
        )
        logger.warning("%s", message)
        output.warnings.append(message)
        return
    output.warnings.extend(
        f"{model}: {note}" for note in ranking.notes if note.startswith("Not checked")
    )
    directory = export_path / "reports" / "summaries" / safe_name(model)
    path = directory / f"summary-ckpt{context.index}.pdf"
    _write(path, summary_pdf(context, model, charts))
    output.summaries[model] = path
    config = best_config_text(ranking)
    if config is not None:
        config_path = directory / f"ckpt{context.index}" / "config.pbtxt"
        _write(config_path, config.encode())
        output.configs[model] = config_path
        output.best_variants[model] = ranking.best.name


def _write_detailed(
    context: ReportContext,
    variant: str,
    export_path: Path,
    charts: ChartSession,
    output: ReportOutput,
) -> None:
    if not context.measurements_of(variant):
        message = (
            f"Variant {variant} has no measurement in checkpoint {context.index}; "
            "no detailed report written for it."
        )
        logger.warning("%s", message)
        output.warnings.append(message)
        return
    directory = export_path / "reports" / "detailed" / safe_name(variant)
    path = directory / f"detailed-ckpt{context.index}.pdf"
    _write(path, detailed_pdf(context, variant, charts))
    output.detailed[variant] = path


def _write(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, payload)
    logger.debug("Wrote %s", path)


def safe_name(name: str) -> str:
    """Turn a model or variant name into one safe path component."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".")
    return cleaned or "unnamed"


def summary_report_bytes(
    loaded: LoadedCheckpoint,
    model: str,
    settings: RankingSettings | None = None,
    warnings: list[str] | None = None,
) -> bytes:
    """Return the summary PDF of ``model`` without writing files (for downloads).

    Chart failures are appended to ``warnings`` when it is given.
    """
    context = report_context(loaded, settings)
    select_models(context, [model], None)
    if not context.ranking(model).entries:
        raise ReportRequestError(
            f"Model {model} has no successful measurement in checkpoint "
            f"{loaded.index}; profile it before asking for its summary."
        )
    charts = ChartSession()
    pdf = summary_pdf(context, model, charts)
    if warnings is not None:
        warnings.extend(charts.warnings)
    return pdf


def detailed_report_bytes(
    loaded: LoadedCheckpoint,
    variant: str,
    settings: RankingSettings | None = None,
    warnings: list[str] | None = None,
) -> bytes:
    """Return the detailed PDF of ``variant`` without writing files."""
    context = report_context(loaded, settings)
    select_variants(context, [], [variant])
    if not context.measurements_of(variant):
        raise ReportRequestError(
            f"Variant {variant} has no measurement in checkpoint {loaded.index}."
        )
    charts = ChartSession()
    pdf = detailed_pdf(context, variant, charts)
    if warnings is not None:
        warnings.extend(charts.warnings)
    return pdf
