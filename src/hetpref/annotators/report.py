"""Write the diagnostics of :func:`hetpref.annotators.diagnostics.inspect_table` as ``report.md``,
``inspect.json`` and figures (``figures/*.pdf`` and ``.png``) into one folder."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..provenance import write_json

HOW_TO_READ = (
    "**How to read this report.** *Feasibility* says which of the paper's three information settings the data "
    "allow: the anonymous view (DPO), same-annotator pairs (the Eq. 19 variance of corrected DPO) and per-type "
    "labels (the consistent loss), with the counts behind each refusal. The *unanimous share* is the share of "
    "pairs, among those judged by at least k types, on which every type's majority label agrees: a low share "
    "means strong heterogeneity, and few pairs left for the consistent loss. *Agreement* is Krippendorff's alpha "
    "(nominal, labels a/b/tie): 1 is perfect agreement, 0 agreement by chance; alpha within a type well above "
    "alpha between types says the type attribute separates preferences. *NBC vs average reward* compares, on "
    "prompts with at least 3 responses compared by at least two types, the ranking DPO targets (the normalised "
    "Borda count) with the average reward r̄ that the consistent loss targets; the min-TV column is how far the "
    "alternative distribution must move from uniform to reverse some pair of NBC's ranking (docs/spec.md §6). "
    "Read the identification caveat at the end before training on per-type labels.")


def _clean(x):
    """JSON-safe copy: numpy scalars to Python, NaN and inf to None, DataFrames to records."""
    if hasattr(x, "to_dict") and hasattr(x, "columns"):
        return [_clean(r) for r in x.to_dict(orient="records")]
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_clean(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        return "–" if math.isnan(x) else ("∞" if math.isinf(x) else f"{x:.{digits}f}")
    return str(x)


def _table(header, rows) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return out


def markdown(result: dict, max_prompts: int = 30) -> str:
    """The report's markdown text."""
    fe, ag, nb = result["feasibility"], result["agreement"], result["nbc_vs_average"]
    lines = [f"# Annotator data report: {result['dataset']}", "", HOW_TO_READ, "",
             f"Source: `{result['source']}`; type attribute: `{result['type_attribute']}` "
             f"(types: {', '.join(map(str, fe['types']))}).", "", "## Feasibility", ""]
    lines += _table(["quantity", "value"], [
        ("judgements", fe["judgements"]), ("pairs", fe["pairs"]), ("prompts", fe["prompts"]),
        ("annotators", fe["annotators"]), ("ties", fe["ties"]),
        ("annotators per type", ", ".join(f"{k}: {v}" for k, v in fe["annotators_per_type"].items())),
        ("judgements per type", ", ".join(f"{k}: {v}" for k, v in fe["judgements_per_type"].items())),
        ("annotators with >= 2 pairs", fe["annotators_with_two_pairs"]),
        ("same-annotator pairs (disjoint, Σ⌊m/2⌋)", fe["same_annotator_pairs"]),
        ("same-annotator pairs (all, Σ C(m,2))", fe["same_annotator_pairs_all"]),
        ("pairs with every type", fe["pairs_with_every_type"])])
    lines += ["", "### Unanimous share by number of types", ""]
    lines += _table(["judged by >= k types", "pairs", "unanimous", "share"],
                    [(r["k"], r["pairs"], r["unanimous"], r["share"]) for r in fe["unanimous_by_types"]])
    if "views" in fe:
        lines += ["", "### Views", ""]
        lines += _table(["view", "allowed", "rows", "why not"],
                        [(v["view"], v["allowed"], v["rows"], v["reason"]) for v in fe["views"]])
    lines += ["", "## Agreement (Krippendorff's alpha, nominal over a/b/tie)", "",
              "Units are pairs. Within a type: the ratings are its annotators' labels on pairs it judged at least "
              "twice. Between types: the ratings are the types' majority labels on pairs judged by at least two "
              "types.", ""]
    rows = [(f"within {k}", v["alpha"], v["units"], v["ratings"], v["reason"]) for k, v in ag["within"].items()]
    rows += [("between types", ag["between"]["alpha"], ag["between"]["units"], ag["between"]["ratings"],
              ag["between"]["reason"]),
             ("all annotators", ag["all_annotators"]["alpha"], ag["all_annotators"]["units"],
              ag["all_annotators"]["ratings"], ag["all_annotators"]["reason"])]
    lines += _table(["alpha", "value", "units", "ratings", "note"], rows)
    s = nb["summary"]
    lines += ["", "## NBC vs average reward", "",
              "Per prompt and type, each judgement's winner counts as one choice (a tie: half to each response); "
              "Luce–Shepard rewards r_u = log P_u (pseudocount "
              f"{_fmt(s.get('pseudocount'), 2)}), a type's weight p(u) its share of the prompt's judgements, "
              "NBC under uniform μ (docs/spec.md §3, §6). For best-of-k data this is the types' choice model; for "
              "other designs r_u is the log of the type's win share, a monotone transform of its preference strength.",
              ""]
    lines += _table(["quantity", "value"], [
        ("prompts analysed", s["prompts_analysed"]),
        *[(f"skipped: {k.replace('_', ' ')}", v) for k, v in s["skipped"].items()],
        ("share with a different top response", s["share_top_differs"]),
        ("share with a different ranking", s["share_ranking_differs"]),
        ("share whose NBC ranking a change of μ can reverse", s["share_can_change"]),
        ("median min-TV (changeable prompts)", s["median_min_tv"]),
        ("median min-TV to dethrone NBC's top", s["median_top_min_tv"])])
    prompts = nb["prompts"]
    if len(prompts):
        shown = prompts.sort_values(["top_differs", "ranking_differs", "min_tv"], ascending=[False, False, True])
        lines += ["", f"Per prompt (first {min(max_prompts, len(shown))} of {len(shown)}; all in inspect.json):", ""]
        lines += _table(["prompt", "r̄ ranking", "NBC ranking", "top differs", "min-TV"],
                        shown.head(max_prompts)[["prompt_id", "rbar_ranking", "nbc_ranking", "top_differs",
                                                 "min_tv"]].itertuples(index=False))
    lines += ["", "## Identification caveat", "", result["caveat"], ""]
    return "\n".join(lines)


def figures(result: dict, folder: Path) -> list[str]:
    """Unanimous share by k, alpha within/between types, and the min-TV histogram."""
    from hetpref.plotting import plt, save

    fe, ag, nb = result["feasibility"], result["agreement"], result["nbc_vs_average"]
    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    by_k = fe["unanimous_by_types"]
    axes[0].bar([str(r["k"]) for r in by_k], [r["share"] if r["pairs"] else 0 for r in by_k], color="tab:red")
    for x, r in enumerate(by_k):
        axes[0].annotate("no pairs" if not r["pairs"] else f"{r['pairs']} pairs", (x, 0.02), ha="center", fontsize=8)
    axes[0].set(xlabel="judged by >= k types", ylabel="unanimous share", ylim=(0, 1), title="Unanimity")
    names = [*ag["within"], "between"]
    values = [*(v["alpha"] for v in ag["within"].values()), ag["between"]["alpha"]]
    axes[1].bar(names, np.nan_to_num(values), color=["tab:blue"] * len(ag["within"]) + ["tab:green"])
    axes[1].axhline(0, color="black", linewidth=0.8)
    for x, v in enumerate(values):
        if not np.isfinite(v):
            axes[1].annotate("n/a", (x, 0), ha="center", va="bottom", fontsize=8)
    finite = [v for v in values if np.isfinite(v)]
    axes[1].set(ylabel="Krippendorff's alpha", title="Agreement within / between types",
                ylim=(min([-0.1, *finite]) - 0.05, 1.05))
    axes[1].tick_params(axis="x", rotation=30)
    tv = nb["prompts"]["min_tv"].to_numpy(dtype=float) if len(nb["prompts"]) else np.array([])
    tv = tv[np.isfinite(tv)]
    if len(tv):
        axes[2].hist(tv, bins=min(30, max(5, len(tv))), color="tab:purple")
    axes[2].set(xlabel="min-TV to reverse a pair of NBC's ranking", ylabel="prompts",
                title=f"NBC vs r̄ ({len(tv)} changeable prompts)")
    pdf, png = folder / "figures" / "inspect.pdf", folder / "figures" / "inspect.png"
    save(fig, pdf, png)
    paths += [str(pdf), str(png)]
    return paths


def write_report(result: dict, out) -> dict:
    """Write ``report.md``, ``inspect.json`` and the figures into ``out``; returns their paths."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(markdown(result), encoding="utf-8")
    write_json(folder / "inspect.json", _clean(result))
    figs = figures(result, folder)
    return {"report": str(folder / "report.md"), "json": str(folder / "inspect.json"), "figures": figs}
