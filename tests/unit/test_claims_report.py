"""The claims registry (order, which claims take the seed) and the report renderer, on cheap
hand-built claims: the full run is tested in test_claims.py."""
import inspect

import pytest

from hetpref import claims as C
from hetpref.claims.registry import CLAIMS, Claim, run_all_claims
from hetpref.claims.render import claims_figure, claims_markdown


def test_registry_lists_every_claim_once_in_order():
    assert [c.id for c in CLAIMS] == list(range(1, 15))
    assert len({c.check for c in CLAIMS}) == len(CLAIMS)
    for c in CLAIMS:
        assert c.check.__name__.startswith(f"claim_{c.id:02d}_")


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"claim{c.id}")
def test_registry_seed_flag_matches_the_claim(claim):
    # the registry says which claims take the seed; it must agree with the functions (a claim that
    # takes a seed but is marked unseeded would silently ignore the report's seed)
    assert claim.seeded == ("seed" in inspect.signature(claim.check).parameters)


def test_run_all_claims_passes_the_seed_only_to_seeded_claims():
    calls = []

    def seeded(seed):
        calls.append(("seeded", seed))
        return {"id": 1}

    def unseeded():  # a TypeError if the seed were passed
        calls.append(("unseeded", None))
        return {"id": 2}

    out = run_all_claims(7, claims=(Claim(1, seeded, seeded=True), Claim(2, unseeded, seeded=False)))
    assert out == [{"id": 1}, {"id": 2}]
    assert calls == [("seeded", 7), ("unseeded", None)]
    with pytest.raises(TypeError):
        run_all_claims(7, claims=(Claim(2, unseeded, seeded=True),))


@pytest.fixture(scope="module")
def cheap_claims():
    """Hand-built claims (no simulation): 1, 2, 4, 5, 7, 8."""
    return [c.run(0) for c in CLAIMS if c.id in (1, 2, 4, 5, 7, 8)]


def test_markdown_lists_every_number_and_escapes_pipes(cheap_claims):
    failed = dict(cheap_claims[0], passed=False, title="a | b")
    md = claims_markdown(cheap_claims + [failed])
    # each claim says its result three times: summary row, section title, result line
    assert md.count("PASS") == 3 * len(cheap_claims) and md.count("FAIL") == 3 and "a \\| b" in md
    assert f"{len(cheap_claims)} of {len(cheap_claims) + 1} claims pass" in md
    for c in cheap_claims:
        assert f"## Claim {c['id']}:" in md and c["statement"] in md
    # unescaped pipes per row: 3 in two-column tables, 4 in the three-column summary
    for line in md.splitlines():
        if line.startswith("| ") and "quantity" not in line and "---" not in line and not line.startswith("| #"):
            assert line.replace("\\|", "").count("|") in (3, 4), line
    # numbers to 6 significant digits, large arrays referred to the JSON
    c8 = next(c for c in cheap_claims if c["id"] == 8)
    assert f"{c8['evidence']['P(y1≻y2) = 0.8 σ(1) + 0.2 σ(−10)']:.6g}" in md
    big = dict(cheap_claims[0], evidence={"many": list(range(100))})
    assert "array of shape [100]; all values in the JSON" in claims_markdown([big])


def test_figure_has_the_two_panels(cheap_claims):
    import matplotlib.pyplot as plt

    fig = claims_figure(cheap_claims)
    try:
        assert len(fig.axes) == 2
        lines = fig.axes[0].get_lines()
        assert len(lines) >= 3  # NBC of y1, y2, y3 along claim 4's μ family
    finally:
        plt.close(fig)


def test_package_exports_the_report_api():
    assert C.run_all_claims is run_all_claims and C.claims_markdown is claims_markdown
    assert all(hasattr(C, name) for name in C.__all__)
