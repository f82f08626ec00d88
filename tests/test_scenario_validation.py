"""Bad input: exit code 2, one line naming the YAML key path and bad value, nothing written."""

import copy
import subprocess

import pytest

from conftest import REPO, python_cmd, tiny_scenario, write_yaml
from ntscc_sim.run import main


def _set(sc, path, value):
    node = sc
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return sc


_DELETE = object()

CASES = [
    # (id, mutation path, value, substrings expected in the message)
    ("unknown-top-key", ("snr",), [5], ["snr", "did you mean 'snr_db'"]),
    ("missing-name", ("name",), _DELETE, ["name", "missing required key"]),
    ("snr-not-number", ("snr_db",), ["ten"], ["snr_db[0]", "'ten'"]),
    ("unknown-scheme-kind", ("schemes", 0, "kind"), "bpg-ldcp", ["schemes[0].kind", "bpg-ldcp", "did you mean 'bpg-ldpc'"]),
    ("negative-cbr", ("schemes", 1, "cbr"), [-0.5], ["schemes[1].cbr[0]", "-0.5"]),
    ("bad-modulation", ("schemes", 0, "mcs"), {"modulation": "17qam", "rate": "1/2"}, ["schemes[0].mcs.modulation", "17qam"]),
    ("bad-rate-fraction", ("schemes", 0, "mcs"), {"modulation": "16qam", "rate": "2/0"}, ["schemes[0].mcs.rate", "2/0"]),
    ("bad-channel-kind", ("channel", "kind"), "rician", ["channel.kind", "rician"]),
    ("missing-folder", ("dataset",), {"kind": "folder", "path": "/nonexistent/images"}, ["dataset.path", "/nonexistent/images"]),
    ("duplicate-scheme-names", ("schemes", 1, "name"), "ldpc", ["schemes[1].name", "duplicate", "ldpc"]),
    ("anchor-not-a-scheme", ("report",), {"anchor": "JPEG"}, ["report.anchor", "JPEG"]),
    ("extra-anchor-not-a-scheme", ("report",), {"extra_anchors": ["JPEG"]}, ["report.extra_anchors[0]", "JPEG"]),
    ("min-points-too-small", ("report",), {"min_points": 2}, ["report.min_points", "2"]),
    ("bd-cbr-range-reversed", ("report",), {"bd_cbr_range": [0.1, "1/64"]}, ["report.bd_cbr_range", "[0.1, '1/64']"]),
    ("bd-cbr-range-not-positive", ("report",), {"bd_cbr_range": [0, 0.1]}, ["report.bd_cbr_range", "[0, 0.1]"]),
    ("bd-cbr-range-one-number", ("report",), {"bd_cbr_range": 0.05}, ["report.bd_cbr_range", "0.05"]),
    ("bd-cbr-range-three-numbers", ("report",), {"bd_cbr_range": [0.01, 0.02, 0.03]}, ["report.bd_cbr_range", "0.03"]),
    ("bd-cbr-range-not-a-number", ("report",), {"bd_cbr_range": ["low", 0.1]}, ["report.bd_cbr_range[0]", "'low'"]),
    ("code-n-vs-rate", ("schemes", 0, "code"), {"k": 1024, "n": 3000}, ["schemes[0].code.n", "3000"]),
    ("negative-seed", ("seed",), -1, ["seed", "-1"]),
    ("unknown-scheme-key", ("schemes", 0, "fallbak"), "grey", ["schemes[0].fallbak", "did you mean 'fallback'"]),
    ("bad-fallback-value", ("schemes", 0, "fallback"), "black", ["schemes[0].fallback", "black"]),
    ("cbr-not-a-list-item", ("schemes", 1, "cbr"), [{"a": 1}], ["schemes[1].cbr[0]"]),
    ("empty-schemes", ("schemes",), [], ["schemes", "at least 1"]),
    ("bad-device", ("device",), "tpu", ["device", "tpu"]),
    ("bad-builtin-name", ("dataset", "names"), ["lena"], ["dataset.names[0]", "lena"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_exit_2_names_key(tmp_path, capsys, case):
    _, path, value, expected = case
    sc = _set(copy.deepcopy(tiny_scenario()), path, value)
    f = write_yaml(tmp_path / "s.yaml", sc)
    out = tmp_path / "out"
    assert main([str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    for s in expected:
        assert s in err, (s, err)
    assert not out.exists(), "nothing may be written for an invalid scenario"


def test_empty_folder_names_path(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    f = write_yaml(tmp_path / "s.yaml", tiny_scenario(dataset={"kind": "folder", "path": str(empty)}))
    assert main([str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "dataset.path" in err and str(empty) in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("text,expected", [("name: [unclosed", "invalid YAML"), ("", "empty"), ("- 1\n- 2\n", "mapping")])
def test_malformed_yaml(tmp_path, capsys, text, expected):
    f = write_yaml(tmp_path / "s.yaml", text)
    assert main([str(f), "--out", str(tmp_path / "o")]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_cli_exit_code_and_help(tmp_path):
    """The real process: exit code 2 and a single line on stderr; --help works."""
    sc = tiny_scenario()
    sc["schemes"][0]["cbr"] = ["-1"]
    f = write_yaml(tmp_path / "s.yaml", sc)
    r = subprocess.run(python_cmd() + [str(f), "--out", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "schemes[0].cbr[0]" in r.stderr
    assert not (tmp_path / "o").exists()
    r = subprocess.run(python_cmd() + ["--help"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "--dry-run" in r.stdout and "--workers" in r.stdout
    r = subprocess.run(python_cmd() + [str(f), "--workers", "0"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2


def test_dry_run_counts_points(tmp_path, capsys):
    f = write_yaml(tmp_path / "s.yaml", tiny_scenario())
    assert main([str(f), "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "ldpc [bpg-ldpc]: 2 configuration(s) x 2 SNR x 2 image(s) = 8 points" in out
    assert "total: 16 points" in out
    assert not (tmp_path / "o").exists()


def test_changed_scenario_refused(tmp_path, capsys):
    """Rerunning a changed scenario into the same folder is refused, never merged."""
    sc = tiny_scenario(snr_db=[12.0])
    sc["schemes"] = sc["schemes"][1:]
    sc["schemes"][0]["cbr"] = ["1/12"]
    sc["dataset"]["names"] = ["astronaut"]
    f = write_yaml(tmp_path / "s.yaml", sc)
    out = tmp_path / "o"
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    before = (out / "points.csv").read_text()
    sc["seed"] = 4
    write_yaml(f, sc)
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    assert "seed" in capsys.readouterr().err
    sc["seed"] = 3
    sc["schemes"][0]["fallback"] = "mean"
    write_yaml(f, sc)
    assert main([str(f), "--out", str(out), "--quiet"]) == 2
    assert "scheme 'cap': parameter 'fallback' changed ('grey' -> 'mean')" in capsys.readouterr().err
    assert (out / "points.csv").read_text() == before
    # extending the sweep (a new SNR) is compatible and only adds points
    sc["schemes"][0]["fallback"] = "grey"
    sc["snr_db"] = [12.0, 20.0]
    write_yaml(f, sc)
    assert main([str(f), "--out", str(out), "--quiet"]) == 0
    after = (out / "points.csv").read_text().splitlines()
    assert len(after) == 1 + 2 and before.splitlines()[1] in after
