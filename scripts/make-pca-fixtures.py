#!/usr/bin/env python3
"""Golden values for the PCA tests, computed with numpy + scikit-learn (svd_solver='full').

Run with a python3 that has numpy and scikit-learn (Debian: apt-get install python3-sklearn;
then /usr/bin/python3 scripts/make-pca-fixtures.py). Writes into test/fixtures/pca/:

  data.f32       the 300 × 40 input matrix, raw little-endian float32, row-major
  golden.json    per scale mode: all eigenvalues and ratios, the first components, projections
                 of the first rows, and k chosen for several explained-variance thresholds

The matrix is generated deterministically here: a rank-8 signal with well separated variances
plus small noise, shifted non-negative like ReLU6 features, with feature 5 constant and feature
12 an exact copy of feature 3 (both edge cases the fit must survive).

Scale modes follow src/pca/scaling.ts:
  none      PCA on the raw features
  standard  sklearn StandardScaler (population std, n) rescaled to the sample std (n - 1), the
            Spark StandardScaler convention: X_std = StandardScaler().fit_transform(X) * sqrt((n-1)/n)
  minmax    sklearn MinMaxScaler
"""
import json
import os
import sys

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler, StandardScaler

N, D, RANK = 300, 40, 8
K_COMPONENTS = 10  # components and projections stored
PROJECTED_ROWS = 20
THRESHOLDS = [0.5, 0.8, 0.9, 0.95, 0.99]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'pca')


def make_data() -> np.ndarray:
    rng = np.random.default_rng(20240611)
    basis, _ = np.linalg.qr(rng.standard_normal((D, RANK)))
    scores = rng.standard_normal((N, RANK)) * np.geomspace(3.0, 0.3, RANK)
    x = scores @ basis.T + 0.05 * rng.standard_normal((N, D))
    x = x - x.min(axis=0) + rng.uniform(0.0, 1.0, D)
    x[:, 5] = 2.5
    x[:, 12] = x[:, 3]
    return x.astype(np.float32)


def golden_for(x: np.ndarray) -> dict:
    full = PCA(svd_solver='full').fit(x)
    k = PCA(n_components=K_COMPONENTS, svd_solver='full').fit(x)
    chosen = {str(t): int(PCA(n_components=t, svd_solver='full').fit(x).n_components_) for t in THRESHOLDS}
    return {
        'eigenvalues': full.explained_variance_.tolist(),
        'ratios': full.explained_variance_ratio_.tolist(),
        'totalVariance': float(np.trace(np.cov(x, rowvar=False))),
        'components': k.components_.tolist(),
        'projection': k.transform(x[:PROJECTED_ROWS]).tolist(),
        'kForVariance': chosen,
    }


def main() -> None:
    x32 = make_data()
    x = x32.astype(np.float64)  # both sides see exactly the stored float32 values
    n = x.shape[0]
    scaled = {
        'none': x,
        'standard': StandardScaler().fit_transform(x) * np.sqrt((n - 1) / n),
        'minmax': MinMaxScaler().fit_transform(x),
    }
    golden = {
        'n': N,
        'd': D,
        'k': K_COMPONENTS,
        'projectedRows': PROJECTED_ROWS,
        'constantFeature': 5,
        'duplicateFeatures': [3, 12],
        'mean': x.mean(axis=0).tolist(),
        'scales': {mode: golden_for(xs) for mode, xs in scaled.items()},
        'sklearnVersion': __import__('sklearn').__version__,
    }
    os.makedirs(OUT, exist_ok=True)
    x32.astype('<f4').tofile(os.path.join(OUT, 'data.f32'))
    with open(os.path.join(OUT, 'golden.json'), 'w') as f:
        json.dump(golden, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}/data.f32 and golden.json', file=sys.stderr)


if __name__ == '__main__':
    main()
