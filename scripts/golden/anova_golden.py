#!/usr/bin/python3
"""Golden two-way ANOVA tables (with replication) for tests/report/anova_test.cpp.

    /usr/bin/python3 scripts/golden/anova_golden.py > tests/golden/anova.txt

Computed independently of normlab's C++: the sums of squares with numpy from the textbook's
definitions, p-values with scipy.stats.f.sf (SciPy 1.10), and regularized incomplete beta values
with scipy.special.betainc. Designs are random accuracies (seeded) of shapes a study uses.
"""
import numpy as np
from scipy import special, stats

rng = np.random.default_rng(1998)


def anova(y):
    a, b, n = y.shape
    grand = y.mean()
    cell = y.mean(axis=2)
    row = y.mean(axis=(1, 2))
    col = y.mean(axis=(0, 2))
    ss_a = b * n * ((row - grand) ** 2).sum()
    ss_b = a * n * ((col - grand) ** 2).sum()
    ss_ab = n * ((cell - row[:, None] - col[None, :] + grand) ** 2).sum()
    ss_e = ((y - cell[:, :, None]) ** 2).sum()
    ss_t = ((y - grand) ** 2).sum()
    df = {"A": a - 1, "B": b - 1, "AB": (a - 1) * (b - 1), "E": a * b * (n - 1)}
    ms_e = ss_e / df["E"]
    rows = []
    for name, ss in (("A", ss_a), ("B", ss_b), ("AB", ss_ab)):
        f = (ss / df[name]) / ms_e
        rows.append((name, ss, df[name], f, stats.f.sf(f, df[name], df["E"]), ss / ss_t))
    rows.append(("E", ss_e, df["E"], float("nan"), float("nan"), ss_e / ss_t))
    return rows


print("# two-way ANOVA with replication: numpy sums of squares, scipy.stats.f.sf p-values")
print("# design a b n / values (a*b*n, row-major: A, then B, then replicate) / rows: source ss df f p eta_sq")
shapes = [(2, 2, 2), (3, 3, 4), (5, 5, 3), (8, 8, 3), (4, 6, 5), (3, 2, 10)]
for d, (a, b, n) in enumerate(shapes):
    # accuracies: a mean effect, a std effect, an interaction and seed noise, some designs without
    effect_a = rng.normal(0, 0.05 * (d % 3), size=a)
    effect_b = rng.normal(0, 0.03 * ((d + 1) % 3), size=b)
    inter = rng.normal(0, 0.02 * (d % 2), size=(a, b))
    y = 0.9 + effect_a[:, None, None] + effect_b[None, :, None] + inter[:, :, None] + rng.normal(0, 0.04, size=(a, b, n))
    y = np.round(y, 4)
    print(f"design {a} {b} {n}")
    print("values " + " ".join(repr(float(v)) for v in y.reshape(-1)))
    for name, ss, df, f, p, eta in anova(y):
        print(f"row {name} {ss!r} {df} {f!r} {p!r} {eta!r}")

print("# regularized incomplete beta I_x(a, b): scipy.special.betainc")
for a, b, x in [(0.5, 0.5, 0.3), (1, 1, 0.42), (2, 3, 0.1), (2, 3, 0.9), (13.5, 1, 0.97), (1, 13.5, 0.02),
                (54, 4, 0.95), (100, 2.5, 0.99), (0.1, 20, 1e-6), (250, 300, 0.45)]:
    print(f"betainc {a!r} {b!r} {x!r} {special.betainc(a, b, x)!r}")
