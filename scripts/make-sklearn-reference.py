#!/usr/bin/env python3
"""Golden reference for `fruits run` on the mini Training set, computed with scikit-learn.

`test/run-cli.test.ts` runs `fruits run ../shared/data/fruits360-mini/Training out --variance 0.95`
and compares its PCA with the values this script checks in:

    test/fixtures/sklearn-mini-training/reference.json

Two steps (Debian's /usr/bin/python3 has numpy and scikit-learn but no pyarrow, so Python never
reads Parquet here; DuckDB — a reader independent of the pipeline's own — does):

  1. Make the features, then dump them from the Parquet parts with a small node snippet (run by
     this script itself, with the repository as working directory so `@duckdb/node-api` is
     found; shown here so it can be run by hand):

        FRUITS_MODEL_DIR=../shared/models node dist/bundle/main.js \\
            run ../shared/data/fruits360-mini/Training /tmp/train --variance 0.95
        node --input-type=module -e "$NODE_DUMP" /tmp/train/features /tmp/train-dump

     which writes /tmp/train-dump/features.f32 (rows × 1280 little-endian float32, row-major,
     rows ordered by path) and /tmp/train-dump/rows.json ({dim, paths, labels}).

  2. Compute the reference from the dump (step 1 is skipped if the dump already exists):

        /usr/bin/python3 scripts/make-sklearn-reference.py /tmp/train [/tmp/train-dump]

For each scale mode the features are cast to float64 and scaled (StandardScaler, MinMaxScaler or
nothing), then `PCA(svd_solver='full')` is fitted. The project's `standard` mode divides by the
n - 1 standard deviation (Spark's StandardScaler) where sklearn's divides by the n one: a constant
factor, so explained-variance ratios and k are the same and those are what the fixture holds.

reference.json holds: the row count, dim, rows per label, the featurizer's (ONNX model file's)
sha256 read from the features manifest (and checked against the file in ../shared/models when
present), the per-feature mean (7 significant digits), and per scale mode the k reaching 95% of
the variance and the first 400 explained-variance ratios (full double precision). The k is the
smallest with cumulative ratio >= 0.95 (the project's rule; sklearn's n_components=0.95 uses a
strict >, which only differs on an exact tie, and is recorded too as a cross-check).
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler, StandardScaler

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
OUT = os.path.join(REPO, 'test', 'fixtures', 'sklearn-mini-training', 'reference.json')
SHARED_MODEL = os.path.join(REPO, '..', 'shared', 'models', 'mobilenet_v2_1.0_224.onnx')
VARIANCE = 0.95
RATIOS_KEPT = 400

# Step 1: features Parquet parts -> features.f32 + rows.json, read by DuckDB.
NODE_DUMP = r"""
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const [features, dump] = process.argv.slice(1);
const conn = await (await DuckDBInstance.create(':memory:')).connect();
const glob = path.join(features, 'part-*.parquet').replace(/'/g, "''");
const reader = await conn.runAndReadAll(`SELECT path, label, features FROM read_parquet('${glob}') ORDER BY path`);
const rows = reader.getRowObjectsJS();
const dim = rows[0].features.length;
const out = new Float32Array(rows.length * dim);
rows.forEach((r, i) => {
  if (r.features.length !== dim) throw new Error(`${r.path}: ${r.features.length} features, expected ${dim}`);
  out.set(r.features, i * dim);
});
mkdirSync(dump, { recursive: true });
writeFileSync(path.join(dump, 'features.f32'), Buffer.from(out.buffer));
writeFileSync(path.join(dump, 'rows.json'), JSON.stringify({ dim, paths: rows.map((r) => r.path), labels: rows.map((r) => r.label) }));
console.log(`${rows.length} rows x ${dim} -> ${dump}`);
"""


def dump_features(features_dir: str, dump_dir: str) -> None:
    subprocess.run(['node', '--input-type=module', '-e', NODE_DUMP, features_dir, dump_dir], cwd=REPO, check=True)


def load_dump(dump_dir: str):
    with open(os.path.join(dump_dir, 'rows.json'), encoding='utf-8') as f:
        rows = json.load(f)
    x = np.fromfile(os.path.join(dump_dir, 'features.f32'), dtype='<f4')
    dim = rows['dim']
    n = len(rows['paths'])
    if x.size != n * dim:
        sys.exit(f'{dump_dir}: features.f32 has {x.size} values, expected {n} x {dim}')
    return x.reshape(n, dim), rows


def k_for(ratios: np.ndarray, variance: float) -> int:
    cum = np.cumsum(ratios)
    return int(np.argmax(cum >= variance) + 1)


def pca_of(x: np.ndarray) -> dict:
    full = PCA(svd_solver='full').fit(x)
    ratios = full.explained_variance_ratio_
    chosen = PCA(n_components=VARIANCE, svd_solver='full').fit(x)
    return {
        'k': k_for(ratios, VARIANCE),
        'sklearnK': int(chosen.n_components_),
        'ratios': ratios[:RATIOS_KEPT].tolist(),
    }


def sha256_of(file: str) -> str:
    h = hashlib.sha256()
    with open(file, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    run_dir = os.path.abspath(sys.argv[1])
    features_dir = os.path.join(run_dir, 'features')
    dump_dir = os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else run_dir + '-dump'
    with open(os.path.join(features_dir, '_manifest.json'), encoding='utf-8') as f:
        manifest = json.load(f)
    if manifest.get('status') != 'complete':
        sys.exit(f'{features_dir}: the features dataset is not complete')
    model = manifest['config']['model']
    if os.path.exists(SHARED_MODEL) and sha256_of(SHARED_MODEL) != model['sha256']:
        sys.exit(f'{features_dir} was made with model sha256 {model["sha256"]}, not {SHARED_MODEL}')
    if not os.path.exists(os.path.join(dump_dir, 'features.f32')):
        dump_features(features_dir, dump_dir)
    x32, rows = load_dump(dump_dir)
    x = x32.astype(np.float64)
    n, d = x.shape

    per_label: dict[str, int] = {}
    for label in rows['labels']:
        per_label[label] = per_label.get(label, 0) + 1
    scaled = {
        'standard': StandardScaler().fit_transform(x),
        'minmax': MinMaxScaler().fit_transform(x),
        'none': x,
    }
    reference = {
        'about': 'scikit-learn PCA(svd_solver="full") on the features of `fruits run` on fruits360-mini/Training; '
        'made by scripts/make-sklearn-reference.py',
        'sklearn': __import__('sklearn').__version__,
        'numpy': np.__version__,
        'rows': n,
        'dim': d,
        'rowsPerLabel': dict(sorted(per_label.items())),
        'model': {'id': model['id'], 'sha256': model['sha256']},
        'variance': VARIANCE,
        'meanSignificantDigits': 7,
        'mean': [float(f'{m:.7g}') for m in x.mean(axis=0)],
        'constantFeatures': [int(j) for j in np.flatnonzero(x.min(axis=0) == x.max(axis=0))],
        'scales': {mode: pca_of(xs) for mode, xs in scaled.items()},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(reference, f, separators=(',', ':'))
        f.write('\n')
    ks = ', '.join(f'{m}: k={v["k"]} (sklearn {v["sklearnK"]})' for m, v in reference['scales'].items())
    print(f'{n} rows x {d}; {ks} -> {os.path.relpath(OUT, REPO)} ({os.path.getsize(OUT)} bytes)')


if __name__ == '__main__':
    main()
