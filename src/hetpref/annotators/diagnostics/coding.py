"""Integer coding of a judgement table for the diagnostics: pairs, prompts, responses, annotators
and types as dense codes, labels as signs (+1 response_a preferred, -1 response_b, 0 tie), and
each type's majority label per pair. Everything is vectorised over judgements."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hetpref.runtime import InputError

from ..table import LABEL_SIGN


@dataclass(frozen=True)
class Coded:
    """Dense codes of one table under one type attribute (arrays have one entry per judgement)."""

    pair: np.ndarray
    pair_ids: np.ndarray
    prompt_of_pair: np.ndarray      # [n_pairs] prompt code of each pair
    prompt_ids: np.ndarray
    resp_a: np.ndarray              # [n_pairs] response code (within all responses) of each pair's a and b
    resp_b: np.ndarray
    response_ids: np.ndarray        # [n_responses] "<prompt_id>\x1f<response_id>"
    prompt_of_response: np.ndarray  # [n_responses]
    annotator: np.ndarray
    n_annotators: int
    type: np.ndarray
    type_names: tuple
    sign: np.ndarray                # int8 in {-1, 0, 1}

    @property
    def n_pairs(self) -> int:
        return len(self.pair_ids)

    @property
    def n_types(self) -> int:
        return len(self.type_names)


#: The single type of a table inspected without a type attribute.
NO_TYPE = "(all annotators)"


def encode(table, type_attribute: str | None) -> Coded:
    """Code ``table`` (a JudgementTable) under ``type_attribute``; one clear error when the attribute
    is not one of the table's annotator attributes or has fewer than two values. Without a type
    attribute (None) every annotator has the one type :data:`NO_TYPE`."""
    f = table.frame
    if type_attribute is None:
        types, type_names = np.zeros(len(f), dtype=np.int64), pd.Index([NO_TYPE])
    elif type_attribute not in table.attributes:
        raise InputError(f"{table.source}: the type attribute {type_attribute!r} is not an annotator attribute of "
                         f"this table; expected one of {list(table.attributes)}")
    else:
        types, type_names = pd.factorize(f[type_attribute].astype(str), sort=True)
    if type_attribute is not None and len(type_names) < 2:
        raise InputError(f"{table.source}: the type attribute {type_attribute!r} has one value only "
                         f"({list(type_names)}); types need at least two values")
    sign = f["label"].astype(object).map(LABEL_SIGN).to_numpy(dtype=np.int8)  # labels validated by the table
    pair, pair_ids = pd.factorize(f["pair_id"].astype(str))
    first = np.zeros(len(pair_ids), dtype=np.int64)
    first[pair[::-1]] = np.arange(len(pair))[::-1]          # first judgement of each pair
    prompt, prompt_ids = pd.factorize(f["prompt_id"].astype(str))
    pid = f["prompt_id"].astype(str).to_numpy()[first]
    keys = np.concatenate([pid + "\x1f" + f["response_a_id"].astype(str).to_numpy()[first],
                           pid + "\x1f" + f["response_b_id"].astype(str).to_numpy()[first]])
    resp, response_ids = pd.factorize(keys)
    prompt_of_pair = prompt[first]
    prompt_of_response = np.zeros(len(response_ids), dtype=np.int64)
    prompt_of_response[resp] = np.concatenate([prompt_of_pair, prompt_of_pair])
    annotator, annotator_ids = pd.factorize(f["annotator_id"].astype(str))
    return Coded(pair=pair, pair_ids=np.asarray(pair_ids), prompt_of_pair=prompt_of_pair,
                 prompt_ids=np.asarray(prompt_ids), resp_a=resp[: len(pair_ids)], resp_b=resp[len(pair_ids):],
                 response_ids=np.asarray(response_ids), prompt_of_response=prompt_of_response,
                 annotator=annotator, n_annotators=len(annotator_ids), type=types,
                 type_names=tuple(type_names), sign=sign)


def type_majority(coded: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Each type's label per pair: the sign of the sum of its judgements' signs (a majority vote, an
    even split or only ties giving 0). Returns ``(majority[P, U] in {-1, 0, 1}, n[P, U] judgements)``."""
    key = coded.pair * coded.n_types + coded.type
    size = coded.n_pairs * coded.n_types
    total = np.bincount(key, weights=coded.sign, minlength=size).reshape(coded.n_pairs, coded.n_types)
    n = np.bincount(key, minlength=size).reshape(coded.n_pairs, coded.n_types)
    return np.sign(total).astype(np.int8), n
