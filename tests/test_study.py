import os

import pytest

from enxs import study
from enxs.context import Context
from enxs.errors import EnxsError
from enxs.files import OutputError


def test_reproduce_writes_a_report_and_reuses_finished_runs(tmp_path, archive_dir):
    out = tmp_path / "report"
    [path] = study.reproduce("enxs-12C-fast", "smoke", out, Context(archive_dir), members=2, targets=("16O",),
                        any_targets=())
    text = path.read_text()
    for method in study.METHODS:
        assert method in text
    assert "| 16O | 7:3 |" in text and "| 16O | 1:9 |" in text and "QE peak" in text
    assert (out / "16O-10.png").read_bytes()[:4] == b"\x89PNG"
    runs_dir = out / "runs"
    first = {p.name: os.path.getmtime(p / "manifest.json") for p in runs_dir.iterdir()}
    assert len(first) == 6  # 2 fractions × (all, last2, scratch)
    with pytest.raises(OutputError, match="give --overwrite"):  # the report is kept without --overwrite
        study.reproduce("enxs-12C-fast", "smoke", out, Context(archive_dir), members=2, targets=("16O",),
                        any_targets=())
    study.reproduce("enxs-12C-fast", "smoke", out, Context(archive_dir), members=2, targets=("16O",), any_targets=(),
                    overwrite=True)
    again = {p.name: os.path.getmtime(p / "manifest.json") for p in runs_dir.iterdir()}
    assert again == first  # nothing retrained


def test_any_nucleus_study_reports_zero_shot_and_fine_tuning(tmp_path, archive_dir):
    [path] = study.reproduce("enxs-12C-fast", "smoke", tmp_path / "r", Context(archive_dir), members=2,
                             targets=("16O",), any_targets=("16O",), any_model="enxs-any-fast", studies=("any",))
    assert path.name == "any-nucleus.md"
    text = path.read_text()
    assert "## Any nucleus: zero-shot" in text and "| 16O | 109 |" in text and "On all points of the target" in text
    assert "carbon carried by superscaling" in text and "response network" in text
    assert "physics backbone alone" in text and "On the quasielastic region of all points" in text
    assert "## Fine-tuned from the structured (default) base" in text and "| 16O | " in text
    assert "## Carbon must not suffer" in text and "## Responses of enxs-any-fast" in text
    assert (tmp_path / "r" / "any-responses.png").is_file() and (tmp_path / "r" / "any-scaling.png").is_file()
    bases = [p for p in (tmp_path / "r" / "runs").iterdir() if p.name.startswith("any-")]
    assert len(bases) == 3  # one per recipe


def test_the_context_reaches_every_run_of_a_study(archive_dir):
    context = Context(archive_dir, device="cuda:1")
    specs = study.study_specs("enxs-12C-fast", "smoke", "16O", 0.7, context, 2, 0)
    assert {s.device for s in specs.values()} == {"cuda:1"}
    assert {s.data_files[0] for s in specs.values()} == {str((archive_dir / "16O.dat").resolve())}


@pytest.mark.parametrize(("context", "message"), [(Context(device="gpu9"), "not a device name"),
                                                  (Context(data_dir="/nonexistent/qes"), "does not exist")])
def test_a_study_with_a_bad_device_or_archive_writes_nothing(tmp_path, context, message):
    with pytest.raises(EnxsError, match=message):
        study.reproduce("enxs-12C-fast", "smoke", tmp_path / "r", context, targets=("16O",), any_targets=())
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("arguments", "message"), [
    ({"targets": ("99X",)}, "--nucleus: unknown nucleus '99X'"),
    ({"targets": ("208Pb",)}, "--nucleus 208Pb: no 208Pb.dat"),
    ({"studies": ("any",), "any_targets": ("208Pb",)}, "--any-nucleus 208Pb: no 208Pb.dat"),
    ({"studies": ("any",), "any_targets": ()}, "no nucleus to leave out"),
    ({"studies": ("any",), "any_targets": ("16O",), "any_model": "nope"}, "unknown model 'nope'"),
    ({"base": "nope"}, "unknown model 'nope'"),
    ({"studies": ("neutrino",), "neutrino_data": "/nonexistent"}, "MiniBooNE's CCQE files cannot be read"),
])
def test_a_study_asked_for_what_it_cannot_do_says_so_before_writing(tmp_path, archive_dir, arguments, message):
    options = {"base": "enxs-12C-fast", "targets": ("16O",), "any_targets": ()} | arguments
    if "neutrino_data" in options:
        options["neutrino_data"] = tmp_path / options["neutrino_data"].lstrip("/")
    with pytest.raises(EnxsError, match=message):
        study.reproduce(options.pop("base"), "smoke", tmp_path / "r", Context(archive_dir), **options)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_the_neutrino_study_compares_the_choices_a_response_network_has(tmp_path, archive_dir):
    from enxs import neutrinostudy

    (tmp_path / "neutrino-sigma-16O.csv").write_text("an earlier run's table, of another model\n")
    path = neutrinostudy.write_report("enxs-12C-responses-fast", tmp_path,
                                      neutrinostudy.default_directory(Context(archive_dir)))
    text = path.read_text()
    assert "| enxs enxs-12C-responses-fast, f_L (default) | bin-averaged |" in text
    assert "| enxs enxs-12C-responses-fast, f_L, muon a plane wave (no Coulomb) | bin-averaged |" in text
    assert "f_T" not in text and "| 40Ar |" not in text  # a carbon response network: f_L and carbon alone
    assert sorted(p.name for p in tmp_path.glob("neutrino-sigma-*.csv")) == ["neutrino-sigma-12C.csv"]
    ratio = next(line for line in text.splitlines() if line.startswith("| 12C | nue/numu |"))
    assert all(1.0 < float(cell.split("±")[0]) < 2.5 for cell in ratio.split("|")[3:-1])  # the lighter lepton wins
    table = (tmp_path / "neutrino-sigma-12C.csv").read_text()
    assert "mean_nuebar_cm2" in table and "numubar, nuebar: outgoing lepton" in table


@pytest.mark.slow
def test_the_neutrino_study_of_the_structured_model_shows_its_transverse_enhancement_too(tmp_path, archive_dir):
    from enxs import neutrinostudy

    path = neutrinostudy.write_report("enxs-any-fast", tmp_path, neutrinostudy.default_directory(Context(archive_dir)))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in path.read_text().splitlines()
             if line.startswith("| enxs ")]
    norm = {c[0].removeprefix("enxs enxs-any-fast, "): float(c[2]) for c in cells if c[1] == "bin-averaged"}
    default, enhanced = norm["f_L/f_T (default)"], norm["f_L/f_T with the transverse enhancement"]
    assert enhanced < default  # the two-nucleon strength MiniBooNE counted: the data/model normalization falls
    shares = [float(c[7].rstrip("%")) for c in cells]  # the model's share of σ from unconstrained (q, ω), in %
    assert all(0 < share < 50 for share in shares)
    assert all(line.endswith("| — |") for line in path.read_text().splitlines()
               if line.startswith(("| relativistic Fermi gas", "| superscaling with f₀")))  # baselines: no coverage
    text = path.read_text()
    assert "| 40Ar | numu (TE) |" in text and "what is then not included" in text
