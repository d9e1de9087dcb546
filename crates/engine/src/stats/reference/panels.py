"""Reference values for the panel and judge statistics (stats/pairwise.rs, stats/agreement.rs,
the fractional Wilson interval in stats/proportion.rs), computed once and pinned.

Run from the repository root:  python3 crates/engine/src/stats/reference/panels.py
It needs numpy, scipy, statsmodels, choix, krippendorff and scikit-learn
(`pip install numpy scipy statsmodels choix krippendorff scikit-learn`); the versions it ran with
are written into each generated file. It rewrites pairwise_values.rs, agreement_values.rs and
panel_proportion_values.rs beside it, which the Rust tests `include!`, and prints the values the tests state inline.

Sources of the data sets:
- Bradley-Terry: the 1987 American League East results of Agresti, Categorical Data Analysis
  (2nd ed. 2002), Table 10.10 / section 10.6, as shipped by the R package BradleyTerry2
  (`data(baseball)`, home wins and away wins per home/away pairing). Agresti's Table 10.11 gives
  the fit with Baltimore as 0: Milwaukee 1.58, Detroit 1.44, Toronto 1.29, New York 1.25,
  Boston 1.11, Cleveland 0.68. choix has no ties, so a data set with ties is entered with every
  comparison twice: a decided one as two wins, a tie as one win each way (the likelihood is the
  same up to a factor 2, so is its maximum).
- Krippendorff's alpha: the examples of Krippendorff (2011), "Computing Krippendorff's
  Alpha-Reliability": A (2 observers, binary, alpha = 0.095) and C (4 observers x 12 units with
  missing values: nominal 0.743, ordinal 0.815, interval 0.849), checked with the `krippendorff`
  package, plus a seeded random data set.
- The per-rater agreement has no library implementation: it is written out below from its
  definition (agreement of a rater with every other rater's value on the same unit, chance from
  the pooled distribution of values) with scipy's exact binomial test.
"""


import choix
import krippendorff
import numpy as np
import scipy
import scipy.stats as st
import sklearn
import statsmodels
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from pinning import rust_float, writer

VERSIONS = (
    f"numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, "
    f"choix {getattr(choix, '__version__', '0.4.1')}, krippendorff {getattr(krippendorff, '__version__', '0.9.0')}, "
    f"scikit-learn {sklearn.__version__}"
)


write = writer("panels.py", VERSIONS)


def rust_floats(values):
    return "[" + ", ".join(rust_float(v) for v in values) + "]"


def centred(params):
    params = np.asarray(params, dtype=float)
    return params - params.mean()


# --- Bradley-Terry -------------------------------------------------------------------------------
TEAMS = ["Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore"]
# (home, away, home wins, away wins), BradleyTerry2 data/baseball.csv.
BASEBALL = [
    ("Milwaukee", "Detroit", 4, 3), ("Milwaukee", "Toronto", 4, 2), ("Milwaukee", "New York", 4, 3),
    ("Milwaukee", "Boston", 6, 1), ("Milwaukee", "Cleveland", 4, 2), ("Milwaukee", "Baltimore", 6, 0),
    ("Detroit", "Milwaukee", 3, 3), ("Detroit", "Toronto", 4, 2), ("Detroit", "New York", 4, 3),
    ("Detroit", "Boston", 6, 0), ("Detroit", "Cleveland", 6, 1), ("Detroit", "Baltimore", 4, 3),
    ("Toronto", "Milwaukee", 2, 5), ("Toronto", "Detroit", 4, 3), ("Toronto", "New York", 2, 4),
    ("Toronto", "Boston", 4, 3), ("Toronto", "Cleveland", 4, 2), ("Toronto", "Baltimore", 6, 0),
    ("New York", "Milwaukee", 3, 3), ("New York", "Detroit", 5, 1), ("New York", "Toronto", 2, 5),
    ("New York", "Boston", 4, 3), ("New York", "Cleveland", 4, 2), ("New York", "Baltimore", 6, 1),
    ("Boston", "Milwaukee", 5, 1), ("Boston", "Detroit", 2, 5), ("Boston", "Toronto", 3, 3),
    ("Boston", "New York", 4, 2), ("Boston", "Cleveland", 5, 2), ("Boston", "Baltimore", 6, 0),
    ("Cleveland", "Milwaukee", 2, 5), ("Cleveland", "Detroit", 3, 3), ("Cleveland", "Toronto", 3, 4),
    ("Cleveland", "New York", 4, 3), ("Cleveland", "Boston", 4, 2), ("Cleveland", "Baltimore", 2, 4),
    ("Baltimore", "Milwaukee", 2, 5), ("Baltimore", "Detroit", 1, 5), ("Baltimore", "Toronto", 1, 6),
    ("Baltimore", "New York", 2, 4), ("Baltimore", "Boston", 1, 6), ("Baltimore", "Cleveland", 3, 4),
]
baseball = [(TEAMS.index(h), TEAMS.index(a), hw, aw) for h, a, hw, aw in BASEBALL]
comparisons = []
for home, away, home_wins, away_wins in baseball:
    comparisons += [(home, away)] * home_wins + [(away, home)] * away_wins
baseball_fit = centred(choix.ilsr_pairwise(len(TEAMS), comparisons, alpha=0.0, tol=1e-13, max_iter=10_000))
print("# baseball, relative to Baltimore (Agresti Table 10.11):", np.round(baseball_fit - baseball_fit[-1], 4))
mm_fit = centred(choix.mm_pairwise(len(TEAMS), comparisons, alpha=0.0, tol=1e-13, max_iter=100_000))
assert np.max(np.abs(mm_fit - baseball_fit)) < 1e-8

# A panel-sized data set with ties: 6 players of spread-out strengths, 400 comparisons, a third
# of the close ones tied.
rng = np.random.default_rng(20250616)
strengths = np.array([0.9, 0.5, 0.3, 0.0, -0.4, -1.3])
tied = []
for _ in range(400):
    first, second = rng.choice(len(strengths), size=2, replace=False)
    p = 1.0 / (1.0 + np.exp(strengths[second] - strengths[first]))
    if abs(p - 0.5) < 0.15 and rng.random() < 0.35:
        score = 0.5
    else:
        score = 1.0 if rng.random() < p else 0.0
    tied.append((int(first), int(second), score))
doubled = []
for first, second, score in tied:
    if score == 1.0:
        doubled += [(first, second), (first, second)]
    elif score == 0.0:
        doubled += [(second, first), (second, first)]
    else:
        doubled += [(first, second), (second, first)]
tied_fit = centred(choix.ilsr_pairwise(len(strengths), doubled, alpha=0.0, tol=1e-13, max_iter=10_000))

body = "/// Agresti's 1987 American League East (Milwaukee, Detroit, Toronto, New York, Boston, Cleveland,\n"
body += "/// Baltimore): (home, away, home wins, away wins).\n"
body += "const BASEBALL: &[(usize, usize, u32, u32)] = &[\n"
for row in baseball:
    body += f"    ({row[0]}, {row[1]}, {row[2]}, {row[3]}),\n"
body += "];\n\n"
body += "/// choix.ilsr_pairwise(alpha=0), centred to mean 0.\n"
body += f"const BASEBALL_CHOIX: [f64; 7] = {rust_floats(baseball_fit)};\n\n"
body += "/// (first, second, score) with ties, 6 players.\n"
body += "const TIED: &[(usize, usize, f64)] = &[\n"
for first, second, score in tied:
    body += f"    ({first}, {second}, {rust_float(score)}),\n"
body += "];\n\n"
body += "/// choix.ilsr_pairwise(alpha=0) on TIED with every comparison twice (a tie as a win each way), centred.\n"
body += f"const TIED_CHOIX: [f64; 6] = {rust_floats(tied_fit)};\n"
write("pairwise_values.rs", body)

# --- sample size to separate two players ---------------------------------------------------------
z = st.norm.ppf
print("# comparisons to separate p from 1/2 (two-sided alpha, power), normal approximation")
for p, alpha, power in [(0.6, 0.05, 0.8), (0.55, 0.05, 0.8), (0.3, 0.05, 0.9), (0.99, 0.01, 0.8), (1.0, 0.05, 0.8)]:
    n = ((z(1 - alpha / 2) * 0.5 + z(power) * np.sqrt(p * (1 - p))) / (p - 0.5)) ** 2
    size = int(np.ceil(n))

    def normal_power(m):
        # P(reject) under p of the two-sided z test of 1/2 at m comparisons.
        se0, se1 = 0.5 / np.sqrt(m), np.sqrt(p * (1 - p) / m)
        upper = 0.5 + z(1 - alpha / 2) * se0
        lower = 0.5 - z(1 - alpha / 2) * se0
        if se1 == 0:
            return float(p > upper or p < lower)
        return st.norm.sf((upper - p) / se1) + st.norm.cdf((lower - p) / se1)

    print(p, alpha, power, size, "power at n:", normal_power(size), "at n-1:", normal_power(size - 1),
          "exact binomial test power at n:",
          sum(st.binom.pmf(k, size, p) for k in range(size + 1) if st.binomtest(k, size, 0.5).pvalue < alpha))

# --- position bias -------------------------------------------------------------------------------
print("# position bias: first wins, second wins, Wilson 95%, two-sided exact binomial p")
for first, second in [(60, 40), (130, 70), (7, 3), (0, 5), (500, 500)]:
    low, high = proportion_confint(first, first + second, alpha=0.05, method="wilson")
    print(first, second, repr(low), repr(high), repr(st.binomtest(first, first + second, 0.5).pvalue))

# --- agreement -----------------------------------------------------------------------------------
# Krippendorff (2011), example C: units in columns, observers A to D in rows.
NAN = np.nan
example_c = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
])
# Example A: two observers, binary.
example_a = np.array([
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
])
# A seeded panel: 7 raters x 40 units on a 1..5 rubric, a unit's true score plus rater noise,
# one rater random, a third of the ratings missing.
rng = np.random.default_rng(16)
truth = rng.integers(1, 6, size=40)
panel = np.full((7, 40), NAN)
for rater in range(7):
    for unit in range(40):
        if rng.random() < 0.33:
            continue
        if rater == 6:
            panel[rater, unit] = rng.integers(1, 6)
        else:
            panel[rater, unit] = int(np.clip(truth[unit] + rng.choice([-1, 0, 0, 0, 1]), 1, 5))


def rust_units(data):
    """Units as rows of Option<u32>, the layout of krippendorff_alpha."""
    rows = []
    for unit in data.T:
        rows.append("vec![" + ", ".join("None" if np.isnan(v) else f"Some({int(v)})" for v in unit) + "]")
    return "vec![\n            " + ",\n            ".join(rows) + ",\n        ]"


def alpha(data, level):
    return krippendorff.alpha(reliability_data=data, level_of_measurement=level)


def rater_agreement(data):
    """Per rater: comparisons with other raters' values on shared units, agreements, pooled chance."""
    pairable = [unit[~np.isnan(unit)] for unit in data.T]
    pooled = np.concatenate([values for values in pairable if len(values) >= 2])
    _, counts = np.unique(pooled, return_counts=True)
    expected = float(np.sum((counts / counts.sum()) ** 2))
    rows = []
    for rater in range(data.shape[0]):
        compared = agreed = 0
        for unit in data.T:
            value = unit[rater]
            if np.isnan(value):
                continue
            others = np.delete(unit, rater)
            others = others[~np.isnan(others)]
            compared += len(others)
            agreed += int(np.sum(others == value))
        p_value = st.binomtest(agreed, compared, expected, alternative="greater").pvalue
        rows.append((rater, compared, agreed, expected, p_value))
    return rows


body = "/// (units, nominal, ordinal, interval) from the krippendorff package.\n"
body += "type AlphaCase = (Vec<Vec<Option<u32>>>, f64, f64, f64);\n\n"
body += "fn alpha_cases() -> Vec<AlphaCase> {\n    vec![\n"
for data in [example_c, example_a, panel]:
    body += f"        (\n        {rust_units(data)},\n"
    body += f"            {rust_float(alpha(data, 'nominal'))},\n"
    body += f"            {rust_float(alpha(data, 'ordinal'))},\n"
    body += f"            {rust_float(alpha(data, 'interval'))},\n        ),\n"
body += "    ]\n}\n\n"
print("# Krippendorff example C nominal/ordinal/interval:",
      alpha(example_c, "nominal"), alpha(example_c, "ordinal"), alpha(example_c, "interval"))
print("# Krippendorff example A nominal:", alpha(example_a, "nominal"))

body += "/// The seeded panel (the third alpha case): per rater (rater, compared, agreed, expected, one-sided p).\n"
body += "const PANEL_RATERS: &[(usize, u64, u64, f64, f64)] = &[\n"
for rater, compared, agreed, expected, p_value in rater_agreement(panel):
    body += f"    ({rater}, {compared}, {agreed}, {rust_float(expected)}, {rust_float(p_value)}),\n"
body += "];\n\n"

# Cohen's kappa: two raters over the same items.
rng = np.random.default_rng(1960)
kappa_cases = [
    ([0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]),
    # Cohen (1960)-style 3-category table, written out as pairs.
    ([0] * 44 + [1] * 5 + [2] * 1 + [0] * 7 + [1] * 20 + [2] * 3 + [0] * 9 + [1] * 5 + [2] * 6,
     [0] * 50 + [1] * 30 + [2] * 20),
]
judge = rng.integers(0, 3, size=300)
panel_votes = np.where(rng.random(300) < 0.6, judge, rng.integers(0, 3, size=300))
kappa_cases.append((list(judge), list(panel_votes)))
kappa_cases.append(([2, 2, 2, 3], [2, 2, 3, 3]))
body += "/// (pairs, sklearn cohen_kappa_score).\n"
body += "fn kappa_cases() -> Vec<(Vec<(u32, u32)>, f64)> {\n    vec![\n"
for first, second in kappa_cases:
    pairs = ", ".join(f"({int(a)}, {int(b)})" for a, b in zip(first, second))
    body += f"        (vec![{pairs}], {rust_float(cohen_kappa_score(first, second))}),\n"
body += "    ]\n}\n\n"

write("agreement_values.rs", body)

# Wilson with fractional counts (ties as halves).
body = "/// (successes, total, lower, upper): statsmodels proportion_confint(method=\"wilson\"), 95%.\n"
body += "const WILSON_FRACTIONAL: &[(f64, f64, f64, f64)] = &[\n"
for count, total in [(7.5, 20.0), (0.5, 3.0), (12.5, 12.5), (0.0, 4.0), (101.5, 240.0), (3.0, 10.0), (2499.5, 5000.0)]:
    low, high = proportion_confint(count, total, alpha=0.05, method="wilson")
    body += f"    ({rust_float(count)}, {rust_float(total)}, {rust_float(low)}, {rust_float(high)}),\n"
body += "];\n\n"

# Exact binomial tests.
body += "/// (successes, trials, p, scipy binomtest one-sided greater, two-sided).\n"
body += "const BINOMIAL_TESTS: &[(u64, u64, f64, f64, f64)] = &[\n"
for k, n, p in [(60, 100, 0.5), (130, 200, 0.5), (7, 10, 0.5), (0, 5, 0.5), (30, 100, 0.25), (9, 40, 0.31), (45, 60, 0.6)]:
    greater = st.binomtest(k, n, p, alternative="greater").pvalue
    two = st.binomtest(k, n, p).pvalue
    body += f"    ({k}, {n}, {rust_float(p)}, {rust_float(greater)}, {rust_float(two)}),\n"
body += "];\n"
write("panel_proportion_values.rs", body)
