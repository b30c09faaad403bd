#!/usr/bin/python3
"""Reference values for the stability report's statistics, computed with SciPy/NumPy.

Run with Debian's interpreter (python3-scipy 1.10, numpy):
    /usr/bin/python3 coordinator/src/report/reference/scipy_fixtures.py
It rewrites scipy-fixtures.json beside this file; the node tests compare against that file, so no
Python is needed at test time. The samples are fixed below (no randomness).
"""
import json
import os
import warnings

import numpy as np
import scipy
from scipy import stats

warnings.simplefilter("ignore")

# Accuracy-like scores of three configurations over 20 seeds, with degenerate runs in `bertadam`.
SAMPLES = {
    "bertadam": [0.527, 0.692, 0.671, 0.527, 0.704, 0.653, 0.682, 0.527, 0.711, 0.664,
                 0.675, 0.531, 0.699, 0.688, 0.642, 0.527, 0.706, 0.667, 0.679, 0.660],
    "adamw": [0.708, 0.715, 0.697, 0.722, 0.693, 0.711, 0.719, 0.701, 0.726, 0.704,
              0.713, 0.689, 0.717, 0.709, 0.721, 0.699, 0.712, 0.706, 0.725, 0.703],
    "reinit": [0.716, 0.723, 0.702, 0.731, 0.709, 0.718, 0.727, 0.712, 0.733, 0.706,
               0.719, 0.698, 0.724, 0.715, 0.729, 0.707, 0.720, 0.711, 0.734, 0.714],
    "small_a": [0.61, 0.64, 0.58, 0.66, 0.63],
    "small_b": [0.67, 0.69, 0.65, 0.71, 0.62, 0.70],
    "stsb": [0.861, 0.874, 0.12, 0.869, 0.881, -0.05, 0.877, 0.872],
    "one": [0.7],
}


def f(x):
    return None if x is None or not np.isfinite(x) else float(x)


def describe(v):
    v = np.asarray(v, dtype=float)
    return {
        "n": int(v.size), "mean": f(np.mean(v)), "std": f(np.std(v, ddof=1)) if v.size > 1 else None,
        "median": f(np.median(v)), "q1": f(np.percentile(v, 25)), "q3": f(np.percentile(v, 75)),
        "min": f(np.min(v)), "max": f(np.max(v)),
    }


def welch(a, b):
    two = stats.ttest_ind(a, b, equal_var=False)
    greater = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return {"t": f(two.statistic), "df": f(df), "p_two_sided": f(two.pvalue), "p_greater": f(greater.pvalue)}


def mwu(a, b):
    r = stats.mannwhitneyu(a, b, alternative="two-sided")
    return {"u": f(r.statistic), "p_two_sided": f(r.pvalue)}


def wilcoxon(a, b, method):
    r = stats.wilcoxon(a, b, alternative="two-sided", mode=method) if scipy.__version__ < "1.9" else \
        stats.wilcoxon(a, b, alternative="two-sided", method=method)
    return {"statistic": f(r.statistic), "p_two_sided": f(r.pvalue)}


def holm(p):
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adj = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return [float(x) for x in adj]


def dodge(v):
    """Dodge et al. 2019 eq. 1, computed independently via the empirical CDF F(v)^k."""
    v = np.sort(np.asarray(v, dtype=float))
    n = len(v)
    out = []
    for k in range(1, n + 1):
        cdf = (np.arange(1, n + 1) / n) ** k
        w = np.diff(np.concatenate([[0.0], cdf]))
        m1 = float(np.sum(w * v))
        out.append({"k": k, "mean": m1, "std": float(np.sqrt(max(0.0, np.sum(w * v * v) - m1 * m1)))})
    return out


def anova(obs):
    """Two-way ANOVA by hand from cell means (SciPy has none), p-values from scipy.stats.f."""
    inits = sorted({o[0] for o in obs})
    datas = sorted({o[1] for o in obs})
    a, b = len(inits), len(datas)
    y = np.zeros((a, b, len(obs) // (a * b)))
    fill = {}
    for i, d, v in obs:
        key = (inits.index(i), datas.index(d))
        y[key[0], key[1], fill.get(key, 0)] = v
        fill[key] = fill.get(key, 0) + 1
    r = y.shape[2]
    grand = y.mean()
    ss_init = b * r * np.sum((y.mean(axis=(1, 2)) - grand) ** 2)
    ss_data = a * r * np.sum((y.mean(axis=(0, 2)) - grand) ** 2)
    ss_total = np.sum((y - grand) ** 2)
    ss_cells = r * np.sum((y.mean(axis=2) - grand) ** 2)
    ss_inter = ss_cells - ss_init - ss_data
    if r > 1:
        res_ss, res_df = ss_total - ss_cells, a * b * (r - 1)
    else:
        res_ss, res_df = ss_inter, (a - 1) * (b - 1)
    ms_res = res_ss / res_df
    terms = []
    rows = [("init", ss_init, a - 1), ("data", ss_data, b - 1)]
    if r > 1:
        rows.append(("interaction", ss_inter, (a - 1) * (b - 1)))
    for name, ss, df in rows:
        F = (ss / df) / ms_res
        terms.append({"source": name, "sum_sq": float(ss), "df": df, "share": float(ss / ss_total),
                      "f": float(F), "p": float(stats.f.sf(F, df, res_df))})
    terms.append({"source": "residual", "sum_sq": float(res_ss), "df": res_df, "share": float(res_ss / ss_total)})
    return {"terms": terms, "total_sum_sq": float(ss_total)}


def main():
    s = SAMPLES
    fixtures = {"scipy_version": scipy.__version__, "numpy_version": np.__version__, "samples": s}
    fixtures["describe"] = {name: describe(v) for name, v in s.items()}
    pairs = [("adamw", "bertadam"), ("reinit", "adamw"), ("small_a", "small_b"), ("bertadam", "stsb")]
    fixtures["welch"] = [{"a": a, "b": b, **welch(s[a], s[b])} for a, b in pairs]
    # Mann-Whitney: exact (small, no ties), asymptotic with ties (bertadam has 0.527 four times),
    # asymptotic without ties (both > 8).
    mw_pairs = [("small_a", "small_b"), ("adamw", "bertadam"), ("reinit", "adamw"), ("small_a", "stsb")]
    fixtures["mann_whitney"] = [{"a": a, "b": b, **mwu(s[a], s[b])} for a, b in mw_pairs]
    # Wilcoxon: exact on untied differences, normal approximation (tie-corrected) on tied ones.
    # 60 pairs (beyond the exact test's 50), no zeros, no ties.
    large_a = [round(0.7 + 0.0137 * np.sin(i) + 0.003, 6) for i in range(60)]
    large_b = [round(0.7 + 0.011 * np.cos(1.3 * i), 6) for i in range(60)]
    paired_untied = ([0.71, 0.69, 0.74, 0.70, 0.68, 0.73, 0.72, 0.75],
                     [0.702, 0.695, 0.721, 0.689, 0.684, 0.7255, 0.7115, 0.7295])
    fixtures["wilcoxon"] = [
        {"a": list(paired_untied[0]), "b": list(paired_untied[1]), "method": "exact",
         **wilcoxon(*paired_untied, "exact")},
        {"a": s["reinit"], "b": s["adamw"], "method": "approx", **wilcoxon(s["reinit"], s["adamw"], "approx")},
        {"a": s["adamw"], "b": s["bertadam"], "method": "exact", **wilcoxon(s["adamw"], s["bertadam"], "exact")},
        {"a": large_a, "b": large_b, "method": "approx", **wilcoxon(large_a, large_b, "approx")},
    ]
    raw = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    fixtures["holm"] = {"p": raw, "adjusted": holm(raw)}
    fixtures["dodge"] = {name: dodge(s[name]) for name in ("bertadam", "adamw", "stsb", "one")}
    # Distribution functions at the points the tests use (jstat against SciPy).
    fixtures["t_cdf"] = [{"t": t, "df": df, "cdf": float(stats.t.cdf(t, df))}
                         for t in (-6.0, -2.5, -1.0, 0.3, 1.7, 4.2) for df in (1.5, 4.0, 17.3, 38.0)]
    fixtures["normal_sf"] = [{"z": z, "sf": float(stats.norm.sf(z))} for z in (-2.0, 0.0, 1.0, 2.5, 4.0, 6.0)]
    fixtures["f_sf"] = [{"f": x, "d1": d1, "d2": d2, "sf": float(stats.f.sf(x, d1, d2))}
                        for x in (0.5, 2.0, 7.5) for d1, d2 in ((1, 4), (3, 12), (4, 16))]
    # A 4 init × 5 data factorial, one trial per cell, and a 3 × 3 one with 2 replicates.
    init_effect = [0.0, 0.02, -0.015, 0.01]
    data_effect = [0.005, -0.01, 0.0, 0.012, -0.004]
    noise = [0.003, -0.002, 0.004, -0.001, 0.0, 0.002, -0.003, 0.001, -0.004, 0.002,
             0.001, -0.002, 0.003, 0.0, -0.001, 0.002, -0.003, 0.004, 0.001, -0.002]
    single = [(100 + i, 200 + d, 0.7 + init_effect[i] + data_effect[d] + noise[i * 5 + d])
              for i in range(4) for d in range(5)]
    replicated = [(i, d, 0.6 + 0.01 * i - 0.02 * d + 0.003 * ((i * 7 + d * 3 + rep * 5) % 4) + 0.004 * i * d)
                  for i in range(3) for d in range(3) for rep in range(2)]
    fixtures["anova"] = [
        {"observations": [list(o) for o in single], **anova(single)},
        {"observations": [list(o) for o in replicated], **anova(replicated)},
    ]
    # Percentile bootstrap CI of a difference of means, from SciPy's own resampler with many
    # resamples: our seeded resampler must agree within Monte Carlo error.
    rng = np.random.default_rng(0)
    ci = stats.bootstrap((np.array(s["reinit"]), np.array(s["adamw"])),
                         lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
                         n_resamples=100000, method="percentile", confidence_level=0.95,
                         vectorized=True, random_state=rng)
    fixtures["bootstrap_ci"] = {"a": "reinit", "b": "adamw", "low": float(ci.confidence_interval.low),
                                "high": float(ci.confidence_interval.high)}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scipy-fixtures.json")
    with open(out, "w") as fh:
        json.dump(fixtures, fh, indent=1)
        fh.write("\n")
    print(out)


if __name__ == "__main__":
    main()
