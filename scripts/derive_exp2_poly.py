#!/usr/bin/python3
"""Derives the polynomial for 2^r, |r| <= 1/16, used by the MMD kernel (validation/mmd.cpp,
exp2_neg): the interpolant at the Chebyshev nodes of [-1/16, 1/16] in the power basis, and its
largest relative error on 200,001 points when evaluated by Horner's rule in double, against
numpy's 80-bit exp2. Prints the coefficients (c0 .. cN) and that error.

    /usr/bin/python3 scripts/derive_exp2_poly.py [DEGREE]     (default 7)
"""
import sys

import numpy as np

deg = int(sys.argv[1]) if len(sys.argv) > 1 else 7
h = np.longdouble(1) / 16
nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))  # in x = r / h
V = np.vander(nodes, deg + 1, increasing=True)
target = np.exp2(nodes.astype(np.longdouble) * h)
cx = np.linalg.solve(V, target.astype(np.float64))
for _ in range(3):  # refine against the 80-bit values
    residual = target - V.astype(np.longdouble) @ cx.astype(np.longdouble)
    cx = cx + np.linalg.solve(V, residual.astype(np.float64))
coef = [float(np.longdouble(cx[k]) / h**k) for k in range(deg + 1)]
r = np.linspace(-1 / 16, 1 / 16, 200001)
p = np.full_like(r, coef[deg])
for k in range(deg - 1, -1, -1):
    p = p * r + coef[k]
exact = np.exp2(r.astype(np.longdouble))
err = np.max(np.abs((p.astype(np.longdouble) - exact) / exact))
for k, c in enumerate(coef):
    print(f"c{k} = {c!r}")
print(f"max relative error {float(err):.3g}")
