"""Accuracy side by side with the published carbon ensemble on the same held-out points.

Imports the published ONNX members (../shared/peers/kowal-c12-onnx: 5 of 50) and evaluates
them and the shipped enxs ensemble on the shipped model's carbon test points, with the same
metric definitions (enxs.metrics). The published members were trained on most of these
points; ours never saw them.

    ENXS_DATA_DIR=../shared/data/qes-archive python benchmarks/compare_peer.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

from enxs import archive, artifacts, onnx_import
from enxs.evaluation import metrics_on
from enxs.predict import ExtrapolationWarning
from enxs.selection import Selection

PEER = Path(__file__).resolve().parents[2] / "shared" / "peers" / "kowal-c12-onnx"


def main() -> None:
    warnings.simplefilter("ignore", ExtrapolationWarning)
    ours, manifest = artifacts.load_model("enxs-12C-fast")
    peer, _ = onnx_import.import_members(PEER)
    table = Selection().apply(archive.read_file(archive.find_nucleus_file("12C"))[0])
    test = table[table.line.isin(manifest.split["12C"]["test_lines"])]
    print(f"carbon test points of enxs-12C-fast: {len(test)}")
    for name, model in (("enxs-12C-fast", ours), (f"published ({peer.members} members)", peer)):
        r = metrics_on(model, test, manifest)
        print(f"{name:24s} median |rel dev| {r['median_abs_rel_dev']:.2%}  χ²/N {r['chi2_per_point']:.2f}  "
              f"χ²/N (stat only) {r['chi2_per_point_stat']:.2f}  pull width {r['pull_width']:.2f}  "
              f"1σ coverage {r['coverage_1sigma']:.1%}")


if __name__ == "__main__":
    main()
