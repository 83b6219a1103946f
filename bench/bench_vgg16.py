"""Benchmark of the vgg16-poster plugin against the seed article's feature loop.

    .venv/bin/python bench/bench_vgg16.py [--posters DIR] [--weights FILE] [--n 48]

All figures come from one run on the same posters, so that ratios hold on a busy machine:

1. throughput: the article's loop (``load_img`` + ``model.predict`` one poster at a time)
   against the plugin's pipeline (threaded decoding + batched ``tf.function``) in float32 and
   in bfloat16, in alternating rounds;
2. the plugin's fit on all posters: cold (empty cache, in a fresh process), warm (table in the
   cache) and features-only warm (table deleted, features cached), and the bytes on disk;
3. how the top-10 neighbours move when precision is reduced (uint8 or float16 storage,
   bfloat16 compute) against float32 features, and uint8 against float16 storage, for the
   article's comparison and the mirrored one.
   The float32 reference features are cached under --cache, so a rerun skips them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("REELPICK_SHARED", REPO.parent / "shared"))


def write_config(folder: Path, cache: Path, posters: Path, weights: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "config.toml"
    file.write_text(
        f'[data]\nsource = "{SHARED / "data" / "ml-latest-small"}"\n[cache]\ndir = "{cache}"\n'
        f'[posters]\ndir = "{posters}"\n[plugins]\nenabled = ["vgg16-poster"]\n'
        f'[plugins.vgg16-poster]\nweights = "{weights}"\n{extra}'
    )
    return file


def fit_once(config_file: Path) -> dict:
    """Fit the plugin as the app does and time the fit (run in a fresh process for 'cold')."""
    from reelpick.config import load_config
    from reelpick.data import load_dataset
    from reelpick.registry import Registry

    config = load_config(config_file)
    dataset = load_dataset(config.data_source)
    registry = Registry(config, load_entry_points=False)
    started = time.perf_counter()
    errors = registry.fit(dataset, ["vgg16-poster"])
    seconds = time.perf_counter() - started
    plugin = registry.plugin_object("vgg16-poster")
    return {
        "seconds": seconds,
        "errors": errors,
        "last_fit": plugin.last_fit,
        "timings": plugin.timings,
        "tensorflow": "tensorflow" in sys.modules,
    }


def fit_in_subprocess(config_file: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--fit-only", str(config_file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def article_loop(files: list[Path], weights: Path) -> float:
    """Images/s of the article's code: one load_img + model.predict per poster."""
    import keras
    from keras.applications.vgg16 import preprocess_input

    model = keras.applications.VGG16(
        include_top=False, weights=str(weights), input_shape=(224, 224, 3)
    )

    def one(file: Path) -> np.ndarray:
        image = keras.utils.load_img(file, target_size=(224, 224))
        x = np.expand_dims(keras.utils.img_to_array(image), axis=0)
        return model.predict(preprocess_input(x), verbose=0).flatten()

    one(files[0])  # first call traces and allocates: not counted
    started = time.perf_counter()
    for file in files:
        one(file)
    return len(files) / (time.perf_counter() - started)


def ours(images: list[bytes], spec, batch_size: int) -> float:
    from reelpick.plugins._vgg16_features import features_of

    features_of(images[:batch_size], spec, batch_size)  # model build and trace: not counted
    started = time.perf_counter()
    features_of(images, spec, batch_size)
    return len(images) / (time.perf_counter() - started)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of each row's top-10 neighbours that two tables have in common."""
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b, strict=True)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posters", type=Path, default=SHARED / "data" / "posters")
    parser.add_argument(
        "--weights", type=Path, default=SHARED / "models" / "vgg16_imagenet_notop.weights.h5"
    )
    parser.add_argument("--n", type=int, default=48, help="posters per throughput round")
    parser.add_argument("--article-n", type=int, default=16, help="posters per article round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/reelpick-bench-vgg16"))
    parser.add_argument("--fit-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit_only:
        print(json.dumps(fit_once(args.fit_only)))
        return 0

    from reelpick import topk_cosine_dense
    from reelpick.config import load_config
    from reelpick.plugins.vgg16_poster import (
        FEATURES_DIR,
        FeatureStore,
        VGG16Poster,
        comparable,
        cpu_has_bf16,
        feature_spec,
    )

    print(f"CPU: {os.cpu_count()} cores, bf16 native: {cpu_has_bf16()}; load {os.getloadavg()}")
    files = sorted(args.posters.glob("*.jpg"), key=lambda f: int(f.stem))
    images = [f.read_bytes() for f in files[: args.n]]
    defaults = dict(VGG16Poster().reelpick_plugin_info().params)

    # 1. throughput, alternating rounds so that load from other processes hits all alike.
    bench_config = load_config(
        write_config(
            args.cache / "throughput", args.cache / "throughput", args.posters, args.weights
        )
    )
    specs = {
        c: feature_spec({**defaults, "weights": str(args.weights), "compute": c}, bench_config)
        for c in ("float32", "bfloat16")
    }
    rates: dict[str, list[float]] = {"article": [], "float32": [], "bfloat16": []}
    for _ in range(args.rounds):
        rates["article"].append(article_loop(files[: args.article_n], args.weights))
        for compute, spec in specs.items():
            rates[compute].append(ours(images, spec, defaults["batch_size"]))
    article = float(np.mean(rates["article"]))
    print("\n== throughput (images/s; mean of rounds, each round listed) ==")
    for name, values in rates.items():
        mean = float(np.mean(values))
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name:>9}: {mean:6.1f} img/s  [{shown}]  x{mean / article:.1f} vs article")

    # 2. cold / warm fits of the plugin with its defaults, each in a fresh process.
    fit_root = args.cache / "fit"
    shutil.rmtree(fit_root, ignore_errors=True)
    config_file = write_config(fit_root, fit_root / "cache", args.posters, args.weights)
    cold = fit_in_subprocess(config_file)
    warm = fit_in_subprocess(config_file)
    config = load_config(config_file)
    for table in (config.cache_dir / "vgg16-poster").rglob("neighbours-*.npz"):
        table.unlink()
    features_warm = fit_in_subprocess(config_file)
    print("\n== fit on all posters (default parameters, fresh process each) ==")
    for name, result in (("cold", cold), ("warm", warm), ("features warm", features_warm)):
        parts = ", ".join(f"{k} {v:.3f} s" for k, v in result["timings"].items())
        print(
            f"{name:>13}: {result['seconds']:7.2f} s  ({parts})  {result['last_fit']}  "
            f"tensorflow imported: {result['tensorflow']}"
        )
    print(
        f"whole fit, cold / warm: x{cold['seconds'] / warm['seconds']:.0f}; "
        f"cold / features-warm: x{cold['seconds'] / features_warm['seconds']:.0f}"
    )
    cold_features = cold["timings"]["features"]
    warm_features = features_warm["timings"]["features"]
    print(
        f"feature stage (model + extraction vs reading the cache): {cold_features:.2f} s / "
        f"{warm_features:.3f} s = x{cold_features / warm_features:.0f}"
    )
    print(
        "(the rest of a warm fit is the poster inventory: reading and hashing each poster "
        "file on disk, whose image check is remembered from the first fit)"
    )
    default_spec = feature_spec({**defaults, "weights": str(args.weights)}, config)
    default_store = FeatureStore(config.cache_dir / FEATURES_DIR, default_spec)
    stored = len(default_store.pack)
    per_poster = default_store.pack.path.stat().st_size / max(stored, 1)
    print(
        f"features on disk ({default_spec.storage}, one pack): {stored} posters, "
        f"{per_poster / 1024:.1f} KiB per poster -> {per_poster * 100_000 / 2**20:.0f} MiB for "
        f"100,000 posters (float32 dense: {25088 * 4 * 100_000 / 2**20:,.0f} MiB)"
    )

    # 3. neighbours under reduced precision, against float32 features.
    import hashlib

    hashes = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    ref_config = load_config(
        write_config(args.cache / "reference", args.cache / "reference", args.posters, args.weights)
    )
    ref_spec = feature_spec(
        {**defaults, "weights": str(args.weights), "compute": "float32", "storage": "float32"},
        ref_config,
    )
    ref_store = FeatureStore(ref_config.cache_dir / FEATURES_DIR, ref_spec)
    missing = [i for i, h in enumerate(hashes) if ref_store.load(h) is None]
    if missing:
        from reelpick.plugins._vgg16_features import extract

        print(f"\ncomputing float32 reference features for {len(missing)} posters (cached)")
        for i, vector in extract(missing, lambda i: files[i].read_bytes(), ref_spec, 16):
            ref_store.save(hashes[i], vector)
    reference = np.stack([ref_store.load(h) for h in hashes])
    scales = np.abs(reference).max(axis=1, keepdims=True)
    as_float16 = (reference / scales).astype(np.float16).astype(np.float32) * scales
    as_uint8 = np.rint(reference / scales * 255) / 255 * scales
    default = np.stack([default_store.load(h) for h in hashes])
    print(f"\n== top-10 neighbours vs float32 features, {len(files)} posters ==")
    for mirror in (False, True):

        def table(x: np.ndarray, mirror: bool = mirror) -> np.ndarray:
            rows = np.stack([comparable(v, "flatten", mirror) for v in x])
            return topk_cosine_dense(rows, 10)[0]

        ref_table = table(reference)
        float16_table = table(as_float16)
        label = "mirror=true (default)" if mirror else "mirror=false (article)"
        print(f"{label}:")
        rows = {
            "float16 storage, float32 compute": overlap(ref_table, float16_table),
            "uint8 storage, float32 compute": overlap(ref_table, table(as_uint8)),
            f"{default_spec.storage} storage, {default_spec.compute} compute (default)": overlap(
                ref_table, table(default)
            ),
            "uint8 against float16 storage": overlap(float16_table, table(as_uint8)),
        }
        for name, value in rows.items():
            print(f"  {name + ':':<46} {value:.4f}")
    cos = (
        np.sum(reference * default, 1)
        / np.linalg.norm(reference, axis=1)
        / np.linalg.norm(default, axis=1)
    )
    print(
        f"cosine(float32 features, default features): min {cos.min():.5f}, median {np.median(cos):.5f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
