"""Model cards (Markdown and HTML): the registry's card, plus the evaluation on held-out
rows with intervals, importances, the data set's profile and the model's known limits."""

from __future__ import annotations

from django.template.loader import render_to_string

from automl.evaluation.models import Evaluation
from automl.registry.models import ModelVersion

SMALL_TEST = 100  # fewer held-out rows than this: intervals are wide


def card_context(version: ModelVersion) -> dict:
    """What both renderings show."""
    evaluation = Evaluation.objects.filter(version=version).first()
    report = evaluation.report if evaluation and evaluation.status == "succeeded" else {}
    dataset = version.dataset
    profile = {}
    if dataset is not None:
        profile = {
            "name": dataset.name,
            "id": dataset.id,
            "rows": dataset.n_rows,
            "features": dataset.n_features,
            "target": dataset.target_name,
            "task": dataset.task,
            "sha256": dataset.sha256 or "-",
            "missing": [
                (c["name"], c["missing_share"])
                for c in (dataset.profile or {}).get("columns", [])
                if c.get("missing_share")
            ],
        }
    return {
        "version": version,
        "report": report,
        "profile": profile,
        "evaluation_status": evaluation.status if evaluation else "not evaluated",
        "importances": (report.get("importances") or {}).get("features", [])[:15],
        "limits": known_limits(version, report),
    }


def known_limits(version: ModelVersion, report: dict) -> list[str]:
    """What an analyst should know before trusting the model, read from its report."""
    limits = []
    if not report:
        return ["No evaluation on held-out rows yet: the metrics above are the job's own."]
    split = report.get("split", {})
    n = report.get("n_rows", 0)
    limits.append(
        f"Measured on {n} held-out rows of data set {split.get('dataset_name')!r}; "
        "data that differs from it (other sources, later periods) may score "
        "worse, and drift monitoring should watch for it."
    )
    if n < SMALL_TEST:
        limits.append(
            f"Only {n} test rows: the 95% intervals are wide, and small "
            "differences between models are not meaningful."
        )
    if report.get("task") == "classification":
        matrix = report.get("confusion_matrix") or []
        totals = [sum(row) for row in matrix]
        if totals and min(totals) < 0.1 * sum(totals):
            rare = report["classes"][totals.index(min(totals))]
            limits.append(
                f"Class {rare!r} is rare in the test rows ({min(totals)} of "
                f"{sum(totals)}): its errors weigh little in accuracy."
            )
        for k, row in enumerate(matrix):
            if sum(row) and row[k] / sum(row) < 0.7:
                limits.append(
                    f"Class {report['classes'][k]!r} is recognised in only "
                    f"{row[k]} of {sum(row)} test rows."
                )
        calibration = report.get("calibration")
        if calibration:
            gaps = [
                abs(p - o)
                for p, o in zip(calibration["predicted"], calibration["observed"], strict=True)
            ]
            if gaps and max(gaps) > 0.15:
                limits.append(
                    "Its probabilities are not well calibrated (a bin is off by "
                    f"{max(gaps):.2f}); do not read them as exact chances."
                )
    importances = (report.get("importances") or {}).get("features") or []
    positive = [f for f in importances if f["mean"] > 0]
    if positive and positive[0]["mean"] > 0.6 * sum(f["mean"] for f in positive):
        limits.append(
            f"It relies mostly on {positive[0]['feature']!r}: a change in how "
            "that column is measured changes its answers most."
        )
    cv = (report.get("validation") or {}).get("cv")
    if cv and cv["std"] > 0.05 * max(abs(cv["mean"]), 1e-12):
        limits.append(
            f"Its cross-validation {cv['metric']} varies between folds "
            f"(std {cv['std']:.3g}): expect that spread on new data."
        )
    return limits


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def card_markdown(version: ModelVersion) -> str:
    """The registry's card with the evaluation, profile and limits appended."""
    from automl.registry.services import model_card

    ctx = card_context(version)
    report, parts = ctx["report"], [model_card(version).rstrip()]
    if ctx["profile"]:
        p = ctx["profile"]
        parts.append(
            f"## Data\n\n- data set {p['id']} {p['name']!r}: {p['rows']} rows, "
            f"{p['features']} features, target {p['target']!r} ({p['task']})"
        )
        if p["missing"]:
            parts.append(
                "- missing values: "
                + ", ".join(f"{name} {share:.1%}" for name, share in p["missing"])
            )
    if report:
        split = report["split"]
        lines = [
            "## Evaluation on held-out rows",
            "",
            f"{report['n_rows']} rows held out by job {split['job']} (test_size "
            f"{split['test_size']}, seed {split['seed']}); 95% percentile bootstrap "
            f"intervals over {report['bootstrap']['n_resamples']} resamples.",
            "",
            "| metric | value | 95% interval |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {name} | {_number(m['value'])} | {_number(m['low'])} to {_number(m['high'])} |"
            for name, m in report["metrics"].items()
        ]
        cv = (report.get("validation") or {}).get("cv")
        if cv:
            lines += [
                "",
                f"Cross-validation ({cv['folds']} folds) {cv['metric']}: mean "
                f"{_number(cv['mean'])}, std {_number(cv['std'])}.",
            ]
        parts.append("\n".join(lines))
    if ctx["importances"]:
        metric = report["importances"]["metric"]
        parts.append(
            "\n".join(
                [
                    f"## Permutation importance (drop in {metric} when shuffled)",
                    "",
                    "| feature | mean | std |",
                    "| --- | --- | --- |",
                ]
                + [
                    f"| {f['feature']} | {_number(f['mean'])} | {_number(f['std'])} |"
                    for f in ctx["importances"]
                ]
            )
        )
    if report.get("hpo_importances"):
        parts.append(
            "## Hyperparameter importances (fANOVA)\n\n"
            + "\n".join(
                f"- {name}: {_number(value)}" for name, value in report["hpo_importances"].items()
            )
        )
    parts.append("## Known limits\n\n" + "\n".join(f"- {line}" for line in ctx["limits"]))
    return "\n\n".join(parts) + "\n"


def card_html(version: ModelVersion) -> str:
    """A standalone HTML page (no scripts, no outside assets): readable inside a zip."""
    return render_to_string("evaluation/card.html", card_context(version))
