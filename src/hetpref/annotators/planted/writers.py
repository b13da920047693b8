"""Writers of planted annotators (:mod:`.design`) in the adapters' real schemas, one per schema."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...lm.data.jsonl import write_jsonl
from .design import PlantedDesign, _prompt_text, _prompts, luce_choices, prompt_ids, sample


def _listed(lists: pd.DataFrame, key: str, pool: str) -> list:
    """The pool's annotations of one row (an empty list when nobody of that pool judged it)."""
    v = lists.loc[key, pool] if pool in lists.columns else None
    return v if isinstance(v, list) else []


def write_multipref(design: PlantedDesign, path) -> Path:
    """MultiPref JSONL: one row per (prompt, pair), ``normal_worker_annotations`` for the first type and
    ``expert_worker_annotations`` for the second (exactly two types), ``overall_pref`` per annotation."""
    if len(design.types) != 2:
        raise ValueError("MultiPref has two worker pools: give exactly two types")
    j = sample(design)
    ids, pids = design.response_ids(), prompt_ids(design)
    pref = np.where(j["label"] == "a", "A-is-clearly-better", np.where(j["label"] == "b", "B-is-clearly-better", "Tie"))
    ann = pd.DataFrame({"row": j["prompt"].astype(str) + "-" + j["i"].astype(str) + "-" + j["j"].astype(str),
                        "pool": np.where(j["type"] == 0, "normal_worker_annotations", "expert_worker_annotations"),
                        "rec": [{"evaluator": f"ann{a:05d}", "overall_pref": o} for a, o in zip(j["annotator"], pref)]})
    lists = ann.groupby(["row", "pool"], sort=False)["rec"].agg(list).unstack("pool")
    first = j.drop_duplicates(["prompt", "i", "j"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, ({
        "prompt_id": pids[p], "prompt": _prompt_text(p, design.contexts[p]),
        "model_a": ids[p, i], "completion_a": f"response {ids[p, i]}",
        "model_b": ids[p, jj], "completion_b": f"response {ids[p, jj]}",
        **{pool: _listed(lists, f"{p}-{i}-{jj}", pool) for pool in ("normal_worker_annotations",
                                                                     "expert_worker_annotations")}}
        for p, i, jj in zip(first["prompt"], first["i"], first["j"])))
    return path


def write_community_alignment(design: PlantedDesign, path, annotators_per_type: int | None = None) -> Path:
    """Community Alignment CSV: one row per annotator conversation (first turn only), the four
    candidates in a per-row random order as ``first_turn_response_a..d``, the chosen one's letter in
    ``first_turn_preferred_response``, the type in ``annotator_political``. Needs k = 4 and no ties.

    By default every conversation has its own annotator; ``annotators_per_type`` = M reuses M
    annotator ids per type, conversation a of prompt p going to annotator (p·n + a) mod M (so one
    annotator never sees a prompt twice while n <= M)."""
    ids = design.response_ids()
    if ids.shape[1] != 4 or design.tie:
        raise ValueError("Community Alignment is best-of-4 without ties: give 4 responses per prompt and tie=0")
    rng = np.random.default_rng(design.seed + 1)
    p_n, u_n, n = len(ids), len(design.types), design.annotators_per_type
    top = luce_choices(design).ravel()                                        # the conversations of sample()
    prompt = np.repeat(np.arange(p_n), u_n * n)
    kind = np.tile(np.repeat(np.arange(u_n), n), p_n)
    perm = np.argsort(rng.random((len(top), 4)), axis=1)                     # letter -> local response
    text = np.char.add("response ", ids[prompt[:, None], perm])
    letter = np.argmax(perm == top[:, None], axis=1)
    frame = pd.DataFrame({
        "conversation_id": np.char.add("c", np.arange(len(top)).astype(str)),
        "annotator_id": np.char.add("ann", _annotator_ids(design, annotators_per_type).astype(str)),
        "annotator_political": np.asarray(design.type_names, dtype=object)[kind],
        "first_turn_prompt": _prompts(design)[prompt],
        **{f"first_turn_response_{x}": text[:, c] for c, x in enumerate("abcd")},
        "first_turn_preferred_response": np.char.add("response_", np.asarray(list("abcd"))[letter]),
    })
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def _annotator_ids(design: PlantedDesign, per_type: int | None) -> np.ndarray:
    p_n, u_n, n = len(design.contexts), len(design.types), design.annotators_per_type
    if per_type is None:
        return np.arange(p_n * u_n * n)
    if per_type < n:
        raise ValueError(f"annotators_per_type={per_type} < {n} conversations per type and prompt")
    p, u, a = np.meshgrid(np.arange(p_n), np.arange(u_n), np.arange(n), indexing="ij")
    return (u * per_type + (p * n + a) % per_type).ravel()


def write_collective_alignment(design: PlantedDesign, folder) -> Path:
    """collective-alignment-1: ``comparisons.jsonl`` (one row per prompt, responses A.. and every
    assessment, the ranking ``<chosen>`` > the others tied, e.g. ``C>A=B=D``) and ``annotators.jsonl``
    (``demographics.political``: the type). Returns the comparisons file. Needs tie=0."""
    if design.tie:
        raise ValueError("collective-alignment rankings are written as chosen > the rest tied: give tie=0")
    j = sample(design)
    ids, pids = design.response_ids(), prompt_ids(design)
    k = ids.shape[1]
    letters = np.asarray(list("ABCD"[:k]))
    chosen = np.where(j["label"].to_numpy() == "a", j["i"].to_numpy(), j["j"].to_numpy())
    one = j.assign(chosen=chosen).drop_duplicates("annotator")
    rank = [f"{letters[c]}>" + "=".join(letters[letters != letters[c]]) for c in one["chosen"]]
    one = one.assign(ranking=rank, aid=np.char.add("rater", one["annotator"].astype(str).to_numpy()))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_prompt = one.groupby("prompt")
    write_jsonl(folder / "comparisons.jsonl", ({
        "prompt_id": pids[p],
        "prompt": {"id": pids[p], "messages": [{"role": "user", "content": _prompts(design)[p]}]},
        "responses": [{"response_index": str(letters[c]),
                       "messages": [{"role": "assistant", "content": f"response {ids[p, c]}"}]} for c in range(k)],
        "metadata": {"assessments": [{"annotator_id": a, "ranking_blocks": {"world": [{"ranking": r}]}}
                                     for a, r in zip(grp["aid"], grp["ranking"])]}} for p, grp in by_prompt))
    write_jsonl(folder / "annotators.jsonl", ({"annotator_id": a, "demographics": {"political": design.type_names[t]}}
                                              for a, t in zip(one["aid"], one["type"])))
    return folder / "comparisons.jsonl"


def write_generic(design: PlantedDesign, path) -> Path:
    """A CSV of one judgement per row in the generic adapter's shipped-fixture column names
    (:data:`READ_OPTIONS` ``["generic"]``): each row shows the pair in a random order, ``winner`` 1, 2 or 0."""
    j = sample(design)
    ids = design.response_ids()
    rng = np.random.default_rng(design.seed + 2)
    flip = rng.random(len(j)) < 0.5
    first = np.where(flip, j["j"], j["i"])
    second = np.where(flip, j["i"], j["j"])
    lab = j["label"].to_numpy()
    winner = np.where(lab == "tie", 0, np.where((lab == "a") ^ flip, 1, 2))
    p = j["prompt"].to_numpy()
    frame = pd.DataFrame({"question_id": np.asarray(prompt_ids(design), dtype=object)[p],
                          "question": _prompts(design)[p],
                          "answer_1": np.char.add("response ", ids[p, first]),
                          "answer_2": np.char.add("response ", ids[p, second]),
                          "rater": np.char.add("rater", j["annotator"].to_numpy().astype(str)),
                          "rater_group": np.asarray(design.type_names, dtype=object)[j["type"].to_numpy()],
                          "winner": winner, "confidence": 1})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path
