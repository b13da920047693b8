"""Deterministic demo Pew waves in the real American Trends Panel schema.

The real Pew ``.sav`` files need an account and cannot be redistributed (docs/spec.md §6), so the
tests and a no-download run of the pipeline use demo waves written here with
:func:`pyreadstat.write_sav`. A demo wave has the same columns, codes and labels as a real
one — ``QKEY``, ``INTERVIEW_START_W<n>``, ``FORM_W<n>``, ``WEIGHT_W<n>``, ``F_PARTYSUM_FINAL``
(99 = Refused), question columns ``Q<k>_W<n>`` with value and variable labels — and answers
drawn from a known per-party Luce–Shepard model, so downstream code can be checked against
the true rewards.

Every demo wave also contains the paper's electric-vehicle question ``EVCAR2_W<n>``
(Figure 1) with fixed per-type choice distributions (:data:`EV_CHOICE_PROBS`) under which
the normalized Borda count (uniform μ) ranks "Not too likely" first while the average reward
r̄ ranks "Not at all likely" first.

Question kinds, by position ``k`` of ``Q<k>_W<n>`` (documented so tests can rely on them):

=============== ============================ ==================================
kind            which ``k``                  expected outcome in ``read_wave``
=============== ============================ ==================================
``all_refused`` ``k == 1``                   skipped, ``all_refused``
``two_options`` ``k % 10 == 3``              skipped, ``too_few_options``
``sparse``      ``k % 10 == 6``              skipped, ``too_few_answers`` (60 answers)
``form2``       ``k % 10 in (4, 9)``         kept; asked to FORM 2 only (NaN otherwise)
``normal``      every other ``k``            kept; 3–6 options
=============== ============================ ==================================

plus ``EVCAR2_W<n>`` (kept) and one open-ended text column ``OE1_W<n>`` (skipped,
``non_numeric``). Expectations assume ``read_wave``'s default thresholds.
"""
from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

TYPE_COLUMN = "F_PARTYSUM_FINAL"
PARTY_CODES = (1, 2, 9, 99)
PARTY_LABELS = {1: "Rep/Lean Rep", 2: "Dem/Lean Dem", 9: "DK/Refused/No lean", 99: "Refused"}
#: Shares of the party codes; after dropping 99 the types are ≈ 45% Rep, 47% Dem, 7% other,
#: close to the paper's EV question (Rep 45%, Dem 48%, other 7%).
PARTY_SHARES = (0.44, 0.46, 0.07, 0.03)
#: User types as ``read_wave`` sees them (code order); refused-party respondents answer like
#: the last ("other") type but are dropped by the reader.
TYPE_NAMES = [PARTY_LABELS[c] for c in (1, 2, 9)]

#: Other demographics with the ATP's names, codes and value labels (99 = refused), for the
#: type-partition analysis. Age and education are drawn independently of everything else;
#: ideology depends on party (rows: Rep, Dem, other; columns: codes 1–5 then 99). Answers
#: depend on party only, so on demo data the other partitions split or mix the party types.
AGE_LABELS = {1: "18-29", 2: "30-49", 3: "50-64", 4: "65+", 99: "DK/REF"}
AGE_SHARES = (0.16, 0.33, 0.26, 0.23, 0.02)
EDUC_LABELS = {1: "College graduate+", 2: "Some College", 3: "H.S. graduate or less", 99: "DK/REF"}
EDUC_SHARES = (0.36, 0.30, 0.32, 0.02)
IDEO_LABELS = {1: "Very conservative", 2: "Conservative", 3: "Moderate", 4: "Liberal", 5: "Very liberal",
               99: "Refused"}
IDEO_GIVEN_PARTY = np.array([
    [0.14, 0.46, 0.31, 0.05, 0.02, 0.02],
    [0.02, 0.07, 0.38, 0.38, 0.13, 0.02],
    [0.05, 0.15, 0.50, 0.18, 0.07, 0.05],
])

EV_TEXT = (
    "The next time you purchase a vehicle, how likely are you to consider purchasing an electric vehicle?"
)
EV_OPTIONS = ["Very likely", "Somewhat likely", "Not too likely", "Not at all likely"]
#: Per-type choice probabilities of the EV question (rows: Rep, Dem, other). Republicans put
#: most mass on "Not at all likely" (a large log-ratio over "Not too likely", which r̄ counts
#: linearly), Democrats prefer "Not too likely" moderately; NBC's bounded σ caps the
#: Republican margin, so NBC ranks "Not too likely" first (population margin ≈ 0.032 in NBC
#: units) while r̄ ranks "Not at all likely" first (margin ≈ 0.24 nats). Tuned so that both
#: margins stay ≳ 3.5 sampling standard deviations with ~2900 typed respondents.
EV_CHOICE_PROBS = np.array(
    [
        [0.03, 0.03, 0.09, 0.85],
        [0.24, 0.22, 0.45, 0.09],
        [0.15, 0.33, 0.29, 0.23],
    ]
)

REFUSED_CODE = 99
SPARSE_N_ANSWERS = 60  # < 3 options × 100 answers, so always too_few_answers
EXPECTED_REASON = {
    "all_refused": "all_refused",
    "two_options": "too_few_options",
    "sparse": "too_few_answers",
    "open_ended": "non_numeric",
}

_OPTION_SETS = {
    2: ["Favor", "Oppose"],
    3: ["Better", "Worse", "About the same"],
    4: ["Very important", "Somewhat important", "Not too important", "Not at all important"],
    5: ["Strongly agree", "Agree", "Neither agree nor disagree", "Disagree", "Strongly disagree"],
    6: ["Excellent", "Very good", "Good", "Fair", "Poor", "Very poor"],
}
_TOPICS = [
    "the economy", "health care", "climate change", "immigration", "education", "technology",
    "public safety", "foreign policy", "the news media", "social media", "housing", "energy",
]


def question_kind(k: int) -> str:
    """Kind of demo question ``Q<k>_W<n>`` (see the module docstring's table)."""
    if k == 1:
        return "all_refused"
    if k % 10 == 3:
        return "two_options"
    if k % 10 == 6:
        return "sparse"
    if k % 10 in (4, 9):
        return "form2"
    return "normal"


def write_demo_wave(
    path: str | PathLike,
    wave_number: int,
    seed: int,
    n_respondents: int = 3000,
    n_questions: int = 150,
) -> dict:
    """Write a deterministic demo wave ``W<wave_number>`` to ``path`` (SPSS ``.sav``).

    All randomness comes from ``numpy.random.default_rng([seed, wave_number])``: the same
    arguments give the same data and labels (the ``.sav`` header still carries the write
    time-stamp). ``n_questions`` counts the ``Q<k>`` columns; ``EVCAR2_W<n>`` and ``OE1_W<n>``
    come on top.

    Returns a JSON-friendly dict: ``path, wave, wave_number, seed, n_respondents,
    type_column, type_names, questions`` (all question columns, file order), ``kinds``
    (name → kind), ``expected_kept`` (names), ``expected_skipped`` (name → reason),
    ``options`` (name → option labels in code order), ``texts`` (name → question text),
    ``rewards`` (name → per-type centred Luce–Shepard rewards ``[3][n_options]`` as lists,
    rows in ``type_names`` order; absent for the all-refused and open-ended columns),
    ``ev_question``.

    Raises ``ValueError`` when ``n_respondents`` is too small for a question meant to be kept
    to pass ``read_wave``'s default thresholds — so the expectations returned are always true.
    """
    import pyreadstat  # optional dependency, needed only to write .sav files

    if n_respondents < 1 or n_questions < 0:
        raise ValueError("n_respondents must be >= 1 and n_questions >= 0")
    rng = np.random.default_rng([int(seed), int(wave_number)])
    wave = f"W{int(wave_number)}"
    n = int(n_respondents)

    # ---- metadata, weight and demographics --------------------------------------------
    start = pd.Timestamp(2023, 4, 10) + pd.to_timedelta(rng.integers(0, 14 * 86400, n), unit="s")
    end = start + pd.to_timedelta(rng.integers(300, 3600, n), unit="s")
    form = rng.integers(1, 3, n).astype(float)
    weight = rng.lognormal(0.0, 0.45, n)
    weight /= weight.mean()  # Pew weights are scaled to mean 1
    party = rng.choice(np.array(PARTY_CODES, dtype=float), size=n, p=PARTY_SHARES)
    columns: dict[str, np.ndarray] = {
        "QKEY": (100001 + np.arange(n)).astype(float),
        f"INTERVIEW_START_{wave}": start.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        f"INTERVIEW_END_{wave}": end.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
        f"DEVICE_TYPE_{wave}": rng.choice([1.0, 2.0, 3.0], size=n, p=[0.6, 0.3, 0.1]),
        f"LANG_{wave}": rng.choice([1.0, 2.0], size=n, p=[0.93, 0.07]),
        f"FORM_{wave}": form,
        f"XTABLET_{wave}": rng.choice([1.0, 2.0], size=n, p=[0.1, 0.9]),
        f"WEIGHT_{wave}": weight,
        TYPE_COLUMN: party,
        "F_AGECAT": rng.choice(np.array(list(AGE_LABELS), dtype=float), size=n, p=AGE_SHARES),
    }
    column_labels = {
        "QKEY": "Unique respondent key",
        f"INTERVIEW_START_{wave}": "Interview start time",
        f"INTERVIEW_END_{wave}": "Interview end time",
        f"DEVICE_TYPE_{wave}": "Device type used to take the survey",
        f"LANG_{wave}": "Language of the survey",
        f"FORM_{wave}": "Form assignment",
        f"XTABLET_{wave}": "Panel-provided tablet",
        f"WEIGHT_{wave}": f"Wave {int(wave_number)} weight",
        TYPE_COLUMN: "Party summary",
        "F_AGECAT": "Age category",
        "F_EDUCCAT": "Education category",
        "F_IDEO": "Ideology",
    }
    value_labels = {
        f"DEVICE_TYPE_{wave}": {1: "Mobile phone", 2: "Desktop or laptop", 3: "Tablet"},
        f"LANG_{wave}": {1: "English", 2: "Spanish"},
        f"FORM_{wave}": {1: "Form 1", 2: "Form 2"},
        f"XTABLET_{wave}": {1: "Panel-provided tablet", 2: "Own device"},
        TYPE_COLUMN: dict(PARTY_LABELS),
        "F_AGECAT": dict(AGE_LABELS),
        "F_EDUCCAT": dict(EDUC_LABELS),
        "F_IDEO": dict(IDEO_LABELS),
    }

    # Row of each respondent's answer distribution: Rep, Dem, other; refused-party → other.
    resp_type = np.select([party == 1, party == 2], [0, 1], default=2)
    typed = party != REFUSED_CODE  # respondents read_wave keeps (all weights are positive)
    # Education and ideology come from their own stream, so the columns above and the answers
    # below are the same as in demo waves written before these columns existed.
    demo_rng = np.random.default_rng([int(seed), int(wave_number), 2])
    columns["F_EDUCCAT"] = demo_rng.choice(np.array(list(EDUC_LABELS), dtype=float), size=n, p=EDUC_SHARES)
    ideo_codes = np.array(list(IDEO_LABELS), dtype=float)
    columns["F_IDEO"] = ideo_codes[_sample_codes(demo_rng, IDEO_GIVEN_PARTY, resp_type).astype(int) - 1]

    desc = {
        "path": str(path),
        "wave": wave,
        "wave_number": int(wave_number),
        "seed": int(seed),
        "n_respondents": n,
        "type_column": TYPE_COLUMN,
        "type_names": list(TYPE_NAMES),
        "questions": [],
        "kinds": {},
        "expected_kept": [],
        "expected_skipped": {},
        "options": {},
        "texts": {},
        "rewards": {},
        "ev_question": f"EVCAR2_{wave}",
    }

    def add_question(name, kind, text, options, answers, rewards):
        columns[name] = answers
        column_labels[name] = text
        value_labels[name] = {i + 1: lab for i, lab in enumerate(options)} | {REFUSED_CODE: "Refused"}
        desc["questions"].append(name)
        desc["kinds"][name] = kind
        desc["options"][name] = list(options)
        desc["texts"][name] = text
        if rewards is not None:
            desc["rewards"][name] = np.asarray(rewards).tolist()
        if kind in EXPECTED_REASON:
            desc["expected_skipped"][name] = EXPECTED_REASON[kind]
            return
        # Guarantee the promise "kept": same thresholds as read_wave's defaults.
        valid = typed & ~np.isnan(answers) & (answers != REFUSED_CODE)
        n_codes = len(np.unique(answers[valid]))
        if n_codes < 3 or valid.sum() < 100 * n_codes:
            raise ValueError(
                f"n_respondents={n} is too small: demo question {name} ({kind}) would have "
                f"{int(valid.sum())} valid answers over {n_codes} options"
            )
        desc["expected_kept"].append(name)

    for k in range(1, n_questions + 1):
        kind = question_kind(k)
        name = f"Q{k}_{wave}"
        n_options = 2 if kind == "two_options" else int(rng.integers(3, 7))
        topic = _TOPICS[(k - 1) % len(_TOPICS)]
        text = f"Demo question {k}: thinking about {topic}, which of these best describes your view?"
        options = _OPTION_SETS[n_options]
        if kind == "all_refused":
            answers = np.full(n, float(REFUSED_CODE))
            add_question(name, kind, text, options, answers, None)
            continue
        # Per-type rewards: a shared component plus a type-specific one, centred per type.
        rewards = rng.normal(0.0, 1.0, n_options) + rng.normal(0.0, 0.8, (3, n_options))
        rewards -= rewards.mean(axis=1, keepdims=True)
        probs = np.exp(rewards)
        probs /= probs.sum(axis=1, keepdims=True)
        codes = _sample_codes(rng, probs, resp_type)
        if kind == "sparse":
            # A fixed handful of typed respondents, the first of them covering every option,
            # so the only reason to skip is too_few_answers.
            answers = np.full(n, np.nan)
            chosen = rng.choice(np.flatnonzero(typed), size=min(SPARSE_N_ANSWERS, int(typed.sum())), replace=False)
            answers[chosen] = codes[chosen]
            answers[chosen[:n_options]] = np.arange(1, n_options + 1)
        else:
            answers = codes.copy()
            refused = rng.random(n) < rng.uniform(0.01, 0.05)  # a few % "Refused"
            answers[refused] = REFUSED_CODE
            if kind == "form2":
                answers[form != 2] = np.nan
        add_question(name, kind, text, options, answers, rewards)

    # ---- the paper's electric-vehicle question (Figure 1) ----------------------------
    ev_rewards = np.log(EV_CHOICE_PROBS)
    ev_rewards -= ev_rewards.mean(axis=1, keepdims=True)
    # Stratified draw (exact per-type quotas, randomly assigned): each respondent's answer is
    # still marginally Luce–Shepard, but the Figure-1 ranking discrepancy cannot be lost to
    # multinomial noise whatever the seed; only the survey weights add noise.
    ev = _stratified_codes(rng, EV_CHOICE_PROBS, resp_type)
    ev[rng.random(n) < 0.01] = REFUSED_CODE
    add_question(f"EVCAR2_{wave}", "ev", EV_TEXT, EV_OPTIONS, ev, ev_rewards)

    # ---- one open-ended (string) column: not a closed question ------------------------
    oe_name = f"OE1_{wave}"
    oe = np.where(rng.random(n) < 0.3, "prices are too high", "")
    columns[oe_name] = oe.astype(object)
    column_labels[oe_name] = "In your own words, what is the most important problem facing the country?"
    desc["questions"].append(oe_name)
    desc["kinds"][oe_name] = "open_ended"
    desc["texts"][oe_name] = column_labels[oe_name]
    desc["expected_skipped"][oe_name] = EXPECTED_REASON["open_ended"]

    frame = pd.DataFrame(columns)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels=column_labels,
        variable_value_labels=value_labels,
    )
    return desc


def write_demo_counts_csv(path: str | PathLike, seed: int) -> pd.DataFrame:
    """Write a small aggregated counts CSV for :func:`~hetpref.pew.counts.read_counts_table`.

    Three questions of wave ``W900`` with 3, 4 and 5 options over the three party groups;
    columns ``wave, question, text, option, group, weighted_count, n``. The last
    (option, group) cell of the last question is left out on purpose (the reader must count
    it 0). Deterministic from ``seed``; returns the DataFrame written.
    """
    rng = np.random.default_rng([int(seed), 900])
    rows = []
    for q, n_options in enumerate((3, 4, 5), start=1):
        name = f"CQ{q}_W900"
        text = f"Demo aggregated question {q}"
        options = _OPTION_SETS[n_options]
        for option in options:
            for group in TYPE_NAMES:
                n_cell = int(rng.integers(20, 400))
                rows.append(
                    {
                        "wave": "W900",
                        "question": name,
                        "text": text,
                        "option": option,
                        "group": group,
                        "weighted_count": round(float(n_cell * rng.uniform(0.7, 1.3)), 6),
                        "n": n_cell,
                    }
                )
    table = pd.DataFrame(rows).iloc[:-1]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return table


def _sample_codes(rng: np.random.Generator, probs: np.ndarray, resp_type: np.ndarray) -> np.ndarray:
    """One Luce–Shepard draw per respondent: codes 1..K from row ``resp_type[i]`` of ``probs``."""
    cum = np.cumsum(probs, axis=1)[resp_type]  # [n, K]
    u = rng.random(len(resp_type))
    idx = np.minimum((u[:, None] >= cum).sum(axis=1), probs.shape[1] - 1)  # clip float round-off
    return (idx + 1).astype(float)


def _stratified_codes(rng: np.random.Generator, probs: np.ndarray, resp_type: np.ndarray) -> np.ndarray:
    """Codes 1..K with exact per-type quotas: within type u, a random permutation of the
    respondents takes the ``probs[u]`` quantiles at the mid-points ``(j + ½) / n_u``."""
    codes = np.empty(len(resp_type))
    for u in range(probs.shape[0]):  # loop over types, not respondents
        members = rng.permutation(np.flatnonzero(resp_type == u))
        mids = (np.arange(len(members)) + 0.5) / max(len(members), 1)
        idx = np.minimum(np.searchsorted(np.cumsum(probs[u]), mids, side="right"), probs.shape[1] - 1)
        codes[members] = idx + 1
    return codes
