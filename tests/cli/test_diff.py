"""`mreg diff`: metadata, stage, size and, for directories, the files that changed."""

from __future__ import annotations

from mreg.core.ops.diff import delta


def test_delta_is_decimal_not_binary():
    assert delta(0.9, 0.93) == 0.03
    assert delta(3, 5) == 2
    assert delta(True, 2) is None and delta("a", 1) is None


def test_diff_of_two_directories(mreg, project):
    a = project / "a"
    a.mkdir()
    (a / "weights.bin").write_bytes(b"w1")
    (a / "config.json").write_text("{}")
    (a / "old.txt").write_text("gone")
    mreg("register", "m", str(a), "-m", "accuracy=0.9", "-m", "loss=0.3", "-p", "lr=0.1", "-t", "team=nlp", "-q")
    (a / "weights.bin").write_bytes(b"w2-longer")
    (a / "old.txt").unlink()
    (a / "new.txt").write_text("new")
    mreg("register", "m", str(a), "--bump", "minor", "-m", "accuracy=0.93", "-m", "loss=0.3", "-m", "f1=0.8",
         "-p", "lr=0.01", "-q")
    mreg("promote", "m@1.0.0", "-q")

    doc = mreg("diff", "m@1.0.0", "m@1.1.0", "--json").json
    assert doc["left"]["version"] == "1.0.0" and doc["right"]["version"] == "1.1.0"
    assert doc["same_artifact"] is False
    assert doc["fields"]["stage"] == {"left": "testing", "right": "development"}
    assert doc["fields"]["size"]["delta"] == doc["right"]["size"] - doc["left"]["size"]
    assert doc["metrics"]["accuracy"] == {"left": 0.9, "right": 0.93, "change": "changed", "delta": 0.03}
    assert doc["metrics"]["loss"]["change"] == "unchanged" and doc["metrics"]["loss"]["delta"] == 0
    assert doc["metrics"]["f1"] == {"left": None, "right": 0.8, "change": "added"}
    assert doc["params"]["lr"]["change"] == "changed"
    assert doc["tags"]["team"] == {"left": "nlp", "right": None, "change": "removed"}
    files = doc["files"]
    assert [f["path"] for f in files["added"]] == ["new.txt"]
    assert [f["path"] for f in files["removed"]] == ["old.txt"]
    assert [(f["path"], f["left_size"], f["right_size"]) for f in files["changed"]] == [("weights.bin", 2, 9)]
    assert files["unchanged"] == 1

    piped = mreg("diff", "m@1.0.0", "m@1.1.0").out.splitlines()
    assert "metrics.accuracy\t0.9\t0.93\t+0.03" in piped
    assert "metrics.loss\t0.3\t0.3\t=" in piped
    assert "stage\ttesting\tdevelopment\tchanged" in piped
    assert "files/new.txt\t\t3\tadded" in piped
    assert "files/old.txt\t4\t\tremoved" in piped
    assert "files/weights.bin\t2\t9\tchanged" in piped
    assert not any(line.startswith("tags.team\tnlp\tnlp") for line in piped)


def test_diff_of_files_and_across_models(mreg, project, registry):
    (project / "x.bin").write_bytes(b"same")
    mreg("register", "one", "x.bin", "-q")
    mreg("register", "two", "x.bin", "-q")
    doc = mreg("diff", "one", "two@latest", "--json").json
    assert doc["same_artifact"] is True and doc["files"] is None and doc["fields"] == {}
    assert registry.diff("one@1.0.0", "two@1.0.0")["left"]["name"] == "one"
    assert mreg("diff", "one@1.0.0", "two@1.0.0").out == ""


def test_diff_errors(mreg, project):
    (project / "x.bin").write_bytes(b"x")
    mreg("register", "one", "x.bin", "-q")
    r = mreg("diff", "one@1.0.0", "one@9.9.9", expect=1)
    assert r.err.startswith("mreg: error: one has no version 9.9.9")
    mreg("diff", "one@1.0.0", expect=2)


def test_piped_diff_keeps_one_difference_a_line_whatever_the_values_hold(mreg, project):
    (project / "x.bin").write_bytes(b"x")
    mreg("register", "m", "x.bin", "-q", "-d", "line1\nline2\ttab", "-t", "k=v\nw")
    mreg("register", "m", "x.bin", "-q")
    lines = mreg("diff", "m@1.0.0", "m@1.0.1").out.splitlines()
    assert lines == ["description\tline1\\nline2\\ttab\t\tchanged", "tags.k\tv\\nw\t\tremoved"]
