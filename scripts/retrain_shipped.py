"""Retrain the shipped models from the configurations recorded in their manifests (same
recipe, same seed, the current random-number scheme), into OUT/<name>, and print their test
metrics before and after. Copy a result into src/enxs/models/<name>/ by hand once checked.

    python scripts/retrain_shipped.py --out runs/retrain [--only enxs-12C-fast]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from enxs import archive, artifacts, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", action="append", help="a shipped model name (repeatable; default: all)")
    args = parser.parse_args()
    shipped = artifacts.shipped_models()
    unknown = [name for name in args.only or [] if name not in shipped]
    if unknown:
        parser.error(f"--only {', '.join(unknown)}: not a shipped model ({', '.join(shipped)})")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, path in shipped.items():
        if args.only and name not in args.only:
            continue
        before = artifacts.read_manifest(path)
        nuclei = [n.name for n in before.nuclei]
        files = [str(archive.find_nucleus_file(n).resolve()) for n in nuclei]
        target = args.out / name
        if not (target / artifacts.MANIFEST).is_file():
            runs.execute(runs.RunSpec(nuclei, files, before.config), target,
                         resume=(target / runs.RUN_FILE).is_file())
        after = artifacts.read_manifest(target)
        for label, m in (("before", before), ("after", after)):
            t = m.metrics["test"]
            print(f"{name} {label}: test median |rel dev| {t['median_abs_rel_dev']:.2%}, chi2/N "
                  f"{t['chi2_per_point']:.2f}, 1-sigma coverage {t['coverage_1sigma']:.1%} (n={t['n']}); "
                  f"fit {m.training.get('fit_seconds_last_invocation', '?')} s", flush=True)


if __name__ == "__main__":
    main()
