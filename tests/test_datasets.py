import numpy as np
import pandas as pd
import pytest

from enxs import archive
from enxs.datasets import dataset_info, parse_norm_overrides, shipped_table, total_error


def test_every_archive_label_has_a_documented_entry(archive_dir):
    labels = set(archive.load_archive(data_dir=archive_dir).dataset)
    table = shipped_table()
    assert labels <= set(table.index)
    assert set(table.norm_source) <= {"talk (carbon; Kowal et al. 2024)", "default"}


def test_talk_values_and_defaults():
    assert dataset_info("Barreau:1983ht").norm_unc == 0.02
    assert dataset_info("Bagdasaryan:1988hp").norm_unc == 0.10
    assert dataset_info("Day:1993md").norm_unc == 0.034  # also used for its 27Al/56Fe data
    assert dataset_info("Unknown:2030").norm_unc == 0.05
    info = dataset_info("Day:1993md", {"Day:1993md": 0.03})
    assert info.norm_unc == 0.03 and info.norm_source == "user (--norm)"


def test_norm_overrides_parse_and_refuse_garbage():
    assert parse_norm_overrides(["O'Connell:1987ag=0.04", "X=0.1"]) == {"O'Connell:1987ag": 0.04, "X": 0.1}
    for bad in ("Day:1993md", "=0.03", "Day:1993md=abc", "Day:1993md=1.5"):
        with pytest.raises(ValueError, match="LABEL=VALUE"):
            parse_norm_overrides([bad])


def test_total_error_uses_the_file_systematic_when_given():
    table = pd.DataFrame({"sigma": [100.0, 100.0], "stat_err": [3.0, 3.0], "sys_err": [np.nan, 4.0],
                          "dataset": ["Barreau:1983ht", "Fomin:2010ei"]})
    assert np.allclose(total_error(table), [np.hypot(3, 1.0), 5.0])  # 1% p2p, or the file's 4
    assert np.allclose(total_error(table, p2p_override=0.0)[0], 3.0)
