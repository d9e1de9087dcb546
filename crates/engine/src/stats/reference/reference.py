"""Reference values for the tests of crates/engine/src/stats, computed once and pinned.

Run from the repository root:  python3 crates/engine/src/stats/reference/reference.py
It needs numpy, scipy and statsmodels (`pip install numpy scipy statsmodels`); the versions it
ran with are written into each generated file. It rewrites the *_values.rs files beside it, which
the Rust tests `include!`, and prints the values that the tests state inline.

The paired Newcombe interval has no implementation in these libraries: it is ported below from
the R package contingencytables (Newcombe_square_and_add_CI_paired_2x2, Fagerland, Lydersen &
Laake 2017), using statsmodels' Wilson interval for the margins.
"""

import itertools

import numpy as np
import scipy
import scipy.stats as st
import statsmodels
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from pinning import rust_float, writer

VERSIONS = f"numpy {np.__version__}, scipy {scipy.__version__}, statsmodels {statsmodels.__version__}"


write = writer("reference.py", VERSIONS)


# --- inline values -------------------------------------------------------------------------------
print("# normal")
for x in [0.0, 1.0, -1.959963984540054, -10.0, 3.5]:
    print(x, repr(st.norm.cdf(x)))
for p in [0.975, 0.5, 0.995, 1e-10, 0.8]:
    print(p, repr(st.norm.ppf(p)))
print("# binomial")
print(repr(st.binom.pmf(28500, 30000, 0.95)), repr(st.binom.cdf(28400, 30000, 0.95)))
print("# quantile")
x = np.array([1.0, 2.0, 3.5, 7.0, 7.25, 10.0, 40.0])
print([repr(np.quantile(x, q)) for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0]], repr(np.mean(x)))
print("# order statistic")
for n, q in [(100, 0.5), (100, 0.95), (100, 0.99), (1000, 0.99), (30000, 0.95)]:
    ci = st.quantile_test(np.arange(1, n + 1, dtype=float), p=q).confidence_interval(0.95)
    print(n, q, ci.low, ci.high)
print("# sample size (Chow, Shao & Wang 4.2)")
z = st.norm.ppf
print(np.ceil((z(0.975) + z(0.9)) ** 2 * 0.32 / 0.03**2))
print(np.ceil((z(0.975) + z(0.8)) ** 2 * (0.16 + 0.72 * 0.28) / 0.05**2))

# --- proportions ---------------------------------------------------------------------------------
wilson_cases = [(0, 1), (0, 10), (1, 10), (5, 10), (10, 10), (37, 1000), (9500, 10000), (1, 30000), (29999, 30000)]
body = "const REFERENCE_WILSON: &[(u64, u64, f64, f64)] = &[\n"
for count, total in wilson_cases:
    low, high = proportion_confint(count, total, alpha=0.05, method="wilson")
    body += f"    ({count}, {total}, {rust_float(low)}, {rust_float(high)}),\n"
body += "];\n\n"

newcombe_cases = [(7, 34, 1, 34), (90, 100, 80, 100), (0, 50, 3, 60), (300, 10000, 250, 10000), (10, 10, 9, 10)]
body += "/// (first successes, first total, second successes, second total, lower, upper) of second − first.\n"
body += "const REFERENCE_NEWCOMBE: &[(u64, u64, u64, u64, f64, f64)] = &[\n"
for c1, n1, c2, n2 in newcombe_cases:
    low, high = confint_proportions_2indep(c2, n2, c1, n1, method="newcomb", compare="diff", alpha=0.05)
    body += f"    ({c1}, {n1}, {c2}, {n2}, {rust_float(low)}, {rust_float(high)}),\n"
body += "];\n\n"


def paired_newcombe(a, b, c, d, alpha=0.05):
    """Second − first for the table [[a, b], [c, d]] (rows: first succeeded, columns: second)."""
    n = a + b + c + d
    first_count, second_count = a + b, a + c
    p1, p2 = first_count / n, second_count / n
    l1, u1 = proportion_confint(first_count, n, alpha=alpha, method="wilson")
    l2, u2 = proportion_confint(second_count, n, alpha=alpha, method="wilson")
    if min(a + b, c + d, a + c, b + d) == 0:
        phi = 0.0
    else:
        cross = a * d - b * c
        if cross > n / 2:
            corrected = cross - n / 2
        elif cross >= 0:
            corrected = 0.0
        else:
            corrected = cross
        phi = corrected / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    # The contingencytables formula gives first − second; turn it round.
    lower = (p1 - p2) - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2))
    upper = (p1 - p2) + np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1))
    return -upper, -lower


low, high = paired_newcombe(59, 6, 16, 80)
print("# paired newcombe, Cavo et al., first - second as contingencytables prints it:", -high, -low)
paired_cases = [(59, 6, 16, 80), (1, 1, 7, 12), (800, 40, 60, 100), (10, 30, 25, 5), (0, 0, 0, 20), (5, 0, 0, 5), (9000, 150, 120, 730)]
body += "/// (both, first only, second only, neither, lower, upper) of second − first.\n"
body += "const REFERENCE_PAIRED: &[(u64, u64, u64, u64, f64, f64)] = &[\n"
for a, b, c, d in paired_cases:
    low, high = paired_newcombe(a, b, c, d)
    body += f"    ({a}, {b}, {c}, {d}, {rust_float(low)}, {rust_float(high)}),\n"
body += "];\n\n"

mcnemar_cases = [(0, 1), (1, 1), (3, 10), (10, 3), (6, 16), (25, 25), (100, 140), (1200, 1350), (0, 30)]
body += "/// (first only, second only, exact two-sided p).\n"
body += "const REFERENCE_MCNEMAR: &[(u64, u64, f64)] = &[\n"
for b, c in mcnemar_cases:
    p = mcnemar(np.array([[50, b], [c, 50]]), exact=True).pvalue
    body += f"    ({b}, {c}, {rust_float(p)}),\n"
body += "];\n"
write("proportion_values.rs", body)

# --- Wilcoxon ------------------------------------------------------------------------------------
rng = np.random.default_rng(20240501)
cases = []
small_first = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
small_second = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.15, 1.29]
cases.append((small_first, small_second))
cases.append((list(np.round(rng.lognormal(0, 0.3, 40), 6)), list(np.round(rng.lognormal(0.1, 0.3, 40), 6))))
first = list(np.round(rng.lognormal(0, 0.3, 300), 2))
second = list(np.round(np.array(first) * rng.lognormal(0.02, 0.05, 300), 2))
cases.append((first, second))
tied_first = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
tied_second = [1.5, 2.5, 2.0, 4.0, 6.0, 6.5, 8.0, 7.5, 10.5, 10.0, 12.0, 12.5, 14.5, 13.0, 16.0, 15.5]
cases.append((tied_first, tied_second))
body = "/// (first, second, statistic, two-sided p, exact).\n"
body += "type Case = (Vec<f64>, Vec<f64>, f64, f64, bool);\n\n"
body += "fn reference_cases() -> Vec<Case> {\n    vec![\n"
for a, b in cases:
    result = st.wilcoxon(a, b)
    d = np.array(b) - np.array(a)
    nonzero = d[d != 0]
    exact = len(a) <= 50 and len(np.unique(np.abs(nonzero))) == len(nonzero) and len(nonzero) == len(d)
    body += "        (\n"
    body += "            vec![" + ", ".join(rust_float(v) for v in a) + "],\n"
    body += "            vec![" + ", ".join(rust_float(v) for v in b) + "],\n"
    body += f"            {rust_float(result.statistic)},\n            {rust_float(result.pvalue)},\n            {str(exact).lower()},\n"
    body += "        ),\n"
body += "    ]\n}\n"
write("wilcoxon_values.rs", body)

# --- drift (permutation test) --------------------------------------------------------------------
within = [0.97, 0.95, 0.99, 0.96, 0.98, 0.94]
across = [0.91, 0.95, 0.88, 0.93, 0.96]
result = st.permutation_test(
    (across, within),
    lambda x, y, axis: np.mean(x, axis=axis) - np.mean(y, axis=axis),
    permutation_type="independent",
    alternative="less",
    n_resamples=10_000,
    vectorized=True,
)
paired_within = [0.97, 0.80, 0.99, 0.60, 0.98, 0.94, 0.75, 0.90]
paired_across = [0.95, 0.81, 0.93, 0.55, 0.96, 0.95, 0.70, 0.86]
paired = st.permutation_test(
    (paired_across, paired_within),
    lambda x, y, axis: np.mean(x - y, axis=axis),
    permutation_type="samples",
    alternative="less",
    n_resamples=10_000,
    vectorized=True,
)
write(
    "drift_values.rs",
    f"const REFERENCE_EXACT_P: f64 = {rust_float(result.pvalue)};\n"
    f"const REFERENCE_PAIRED_EXACT_P: f64 = {rust_float(paired.pvalue)};\n",
)

# --- Holm ----------------------------------------------------------------------------------------
raw = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
adjusted = multipletests(raw, method="holm")[1]
write("holm_values.rs", "const REFERENCE_HOLM: [f64; 6] = [" + ", ".join(rust_float(v) for v in adjusted) + "];\n")
