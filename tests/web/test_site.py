"""`mreg site`: every page written, links that resolve, hostile text as text, same bytes every time, fast."""

from __future__ import annotations

import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mreg.web.markup import html, script_json
from tests.reliability.rel import scale
from tests.web.conftest import CLOSE, HOSTILE_DESCRIPTION, HOSTILE_REASON, IMG, SCRIPT, run


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src", "action") and value:
                self.links.append(value)
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_script = False


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_page_is_written_and_every_link_resolves(gallery_site):
    pages = tree(gallery_site)
    for expected in ("index.html", "static/site.css", "static/site.js", "models/sentiment/_index.html",
                     "models/sentiment/_compare.html", "models/sentiment/_v/1.0.0.html",
                     "models/sentiment/_compare/1.0.0..1.0.1.html", "models/sentiment/_compare/1.0.2..1.0.3.html",
                     "models/sentiment/_data/1.0.3.js", "models/team/segmenter/_index.html",
                     "models/team/segmenter/_v/1.0.0.html"):
        assert expected in pages
    # consecutive pairs only: any other pair is compared in the browser from the data files
    assert sorted(p for p in pages if "/_compare/" in p) == [
        "models/sentiment/_compare/1.0.0..1.0.1.html", "models/sentiment/_compare/1.0.1..1.0.2.html",
        "models/sentiment/_compare/1.0.2..1.0.3.html"]
    checked = 0
    for path, data in pages.items():
        if not path.endswith(".html"):
            continue
        parser = Links()
        parser.feed(data.decode())
        for link in parser.links:
            if link.startswith("#"):
                assert f'id="{link[1:]}"' in data.decode(), f"{path}: {link} names no element"
                continue
            assert not re.match(r"^[a-z]+:", link), f"{path} links outside the site: {link}"
            target = (gallery_site / path).parent / link.split("?")[0].split("#")[0]
            assert target.resolve().is_file(), f"{path}: {link} leads nowhere"
            assert gallery_site.resolve() in target.resolve().parents
            checked += 1
    assert checked > 100


def test_pages_show_the_registry(gallery_site):
    index = (gallery_site / "index.html").read_text()
    assert "champion → 1.0.2" in index and "prod: 1.0.2 90%, 1.0.3 10%" in index
    model = (gallery_site / "models/sentiment/_index.html").read_text()
    # one chart per metric, one point per version that has the metric
    charts = re.findall(r'<svg class="chart"[^>]*data-metric="([^"]+)".*?</svg>', model)
    assert charts == ["accuracy", "f1"]
    accuracy, f1 = re.findall(r'<svg class="chart".*?</svg>', model)
    assert accuracy.count('class="point"') == 4 and f1.count('class="point"') == 3
    assert "first release" in model and "alice@example.com" in model
    version = (gallery_site / "models/sentiment/_v/1.0.3.html").read_text()
    assert "mreg get sentiment@1.0.3 -o ./bundle" in version
    assert "<dt>Aliases</dt><dd>challenger</dd>" in version and "<dt>Serving</dt><dd>prod (10%)</dd>" in version
    assert "weights.bin" in version and "config.json" in version and "2.9 KiB" in version
    parent = (gallery_site / "models/sentiment/_v/1.0.2.html").read_text()
    assert 'class="lineage"' in parent and "team/segmenter@1.0.0" in parent  # derived from it
    child = (gallery_site / "models/team/segmenter/_v/1.0.0.html").read_text()
    assert 'href="../../../../models/sentiment/_v/1.0.2.html"' in child
    compare = (gallery_site / "models/sentiment/_compare/1.0.2..1.0.3.html").read_text()
    assert "+0.06" in compare and "+0.09" in compare  # accuracy and f1, as mreg diff computes them


def test_compare_pages_hold_what_mreg_diff_reports(gallery, gallery_env, gallery_site):
    from mreg.web.markup import escape
    from mreg.web.parts import value_text

    diff = json.loads(run(gallery, gallery_env, "diff", "sentiment@1.0.2", "sentiment@1.0.3", "--json").stdout)
    page = (gallery_site / "models/sentiment/_compare/1.0.2..1.0.3.html").read_text()
    rows = 0
    for section in ("metrics", "params", "tags", "datasets"):
        for key, entry in diff[section].items():
            left = "" if entry["change"] == "added" else value_text(entry["left"])
            right = "" if entry["change"] == "removed" else value_text(entry["right"])
            assert f"<td>{escape(key)}</td><td>{escape(left)}</td><td>{escape(right)}</td>" in page
            rows += 1
    for key, entry in diff["fields"].items():
        assert f"<td>{key}</td><td>{escape(value_text(entry['left']))}</td><td>{escape(value_text(entry['right']))}</td>" in page
        rows += 1
    assert rows >= 6 and diff["files"] is None  # a file against a folder: no file listing, here or in mreg diff


def test_hostile_text_is_shown_as_text(gallery_site):
    for path, data in tree(gallery_site).items():
        text = data.decode()
        for hostile in (SCRIPT, IMG, CLOSE, "<script>window.__pwned"):
            assert hostile not in text, f"{path} holds {hostile!r} unescaped"
        if path.endswith(".html"):
            parser = Links()
            parser.feed(text)
            for script in parser.scripts:  # embedded JSON never closes its element or opens a comment
                assert "</" not in script and "<!--" not in script and "\u2028" not in script
    version = (gallery_site / "models/sentiment/_v/1.0.3.html").read_text()
    assert html("{d}", d=HOSTILE_DESCRIPTION) in version
    model = (gallery_site / "models/sentiment/_index.html").read_text()
    assert html("{r}", r=HOSTILE_REASON) in model


def test_script_json_cannot_end_its_script_element():
    value = {"k": "</script><!-- \u2028 \u2029 & <b>"}
    text = script_json(value)
    assert all(bad not in text for bad in ("</", "<!--", "\u2028", "\u2029", "<", ">", "&"))
    assert json.loads(text) == value


def test_same_registry_same_bytes_and_unchanged_pages_are_not_rewritten(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.9", "-q")
    (project / "m.bin").write_bytes(b"two")
    mreg("register", "sentiment", "m.bin", "-m", "accuracy=0.91", "-q")
    mreg("register", "other", "m.bin", "-q")
    first = mreg("site", "-o", tmp_path / "a", "--json").json
    assert first["written"] == first["pages"] > 10
    mreg("site", "-o", tmp_path / "b", "-q")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    again = mreg("site", "-o", tmp_path / "a", "--json").json
    assert again == {**first, "written": 0, "unchanged": first["pages"]}

    untouched = tmp_path / "a" / "models" / "other" / "_v" / "1.0.0.html"
    stamp = untouched.stat().st_mtime_ns
    os.utime(untouched, ns=(stamp - 10**9, stamp - 10**9))  # an old page stays old
    mreg("update", "sentiment@1.0.1", "-d", "retrained", "-q")
    after = mreg("site", "-o", tmp_path / "a", "--json").json
    assert 0 < after["written"] < after["pages"]
    assert untouched.stat().st_mtime_ns == stamp - 10**9
    assert "retrained" in (tmp_path / "a" / "models/sentiment/_v/1.0.1.html").read_text()


def test_pages_of_removed_versions_go_and_nothing_else(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-q")
    (project / "m.bin").write_bytes(b"two")
    mreg("register", "sentiment", "m.bin", "-q")
    site = tmp_path / "site"
    mreg("site", "-o", site, "-q")
    (site / "CNAME").write_text("models.example.com\n")  # the user's own file
    (tmp_path / "outside.html").write_text("keep")
    record = site / ".mreg-site"
    # a record edited by hand never leads a removal outside the site
    record.write_text(record.read_text() + "../outside.html\n/etc/hostname\nCNAME/../../outside.html\n")
    mreg("rm", "sentiment@1.0.0", "-r", "bad", "-q")
    result = mreg("site", "-o", site, "--json").json
    assert result["removed"] == 3  # the version's page, its data file, and the compare page with 1.0.1
    assert not (site / "models/sentiment/_v/1.0.0.html").exists()
    assert not (site / "models/sentiment/_compare").exists()  # emptied, so removed
    assert (site / "models/sentiment/_v/1.0.1.html").is_file()
    assert (site / "CNAME").read_text() == "models.example.com\n" and (tmp_path / "outside.html").read_text() == "keep"
    assert "1.0.0" not in (site / "models/sentiment/_index.html").read_text().split("<h2")[1]  # versions table
    assert mreg("site", "-o", site, "--json").json["removed"] == 0


def test_only_the_models_named(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-q")
    mreg("register", "other", "m.bin", "-q")
    mreg("site", "-o", tmp_path / "s", "sentiment", "-q")
    assert (tmp_path / "s/models/sentiment/_index.html").is_file()
    assert not (tmp_path / "s/models/other").exists()
    index = (tmp_path / "s/index.html").read_text()
    assert "other" not in index
    assert "Aliases" not in index and "Deployments" not in index  # columns only when some model has them


def test_bad_input_is_one_line_and_changes_nothing(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-q")
    before = tree(project / ".mreg" / "models")
    (tmp_path / "file").write_text("x")
    for args, code, words in [
        (["-o", tmp_path / "s", "nope"], 1, "no model named 'nope'"),
        (["-o", tmp_path / "s", "Bad"], 2, "bad"),
        (["-o", project / ".mreg" / "site"], 2, "registry"),
        (["-o", project], 2, "registry"),
        (["-o", tmp_path / "file"], 2, "not a folder"),
        ([], 2, "--output"),
    ]:
        result = mreg("site", *args, expect=code)
        assert result.err.startswith("mreg: error:") and words.lower() in result.err.lower(), result
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())
    assert tree(project / ".mreg" / "models") == before
    outside = tmp_path / "empty"
    outside.mkdir()
    result = mreg("site", "-o", tmp_path / "t", cwd=outside, expect=1)
    assert "registry" in result.err


def test_a_damaged_index_is_an_integrity_error(mreg, project, tmp_path):
    (project / "m.bin").write_bytes(b"one")
    mreg("register", "sentiment", "m.bin", "-q")
    (project / ".mreg/models/sentiment/_index.json").write_text('{"format": 1, "name": "sentiment", "versions": 7}')
    result = mreg("site", "-o", tmp_path / "s", expect=3)
    assert result.err.startswith("mreg: error: the index of model sentiment is damaged") and len(result.err.splitlines()) <= 2


def test_a_large_registry_builds_quickly(tmp_path, monkeypatch):
    # 1,000 versions in 10 s (MREG_FULL=1); the default run checks the rate on fewer.
    import mreg as api
    from mreg.web import build_site

    count = scale(40, 1000)
    registry = api.init(str(tmp_path / "big"))
    artifact = tmp_path / "m.bin"
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(count):
        if i % 10 == 0:  # some folders: their files are listed and compared
            (folder / "weights.bin").write_bytes(f"{i}".encode())
            (folder / f"extra-{i % 3}.txt").write_bytes(b"x")
            path = folder
        else:
            artifact.write_bytes(f"weights {i}".encode())
            path = artifact
        registry.register(f"model-{i % 4}", str(path), metrics=[f"accuracy={0.5 + i / (4 * count)}", f"loss={1 - i / count}"],
                          tags=[f"run=r{i}"])
    started = time.perf_counter()
    result = build_site(registry, str(tmp_path / "site"))
    elapsed = time.perf_counter() - started
    assert result["pages"] > 3 * count
    assert elapsed < 10 * count / 1000 + 1, f"{count} versions took {elapsed:.1f} s"
    started = time.perf_counter()
    again = build_site(registry, str(tmp_path / "site"))
    assert again["written"] == 0
