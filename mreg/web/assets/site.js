/* mreg's web view: the index filter, the copy button, and comparing any two versions.
   No network: the only files read are the site's own, through <script> elements,
   which work from file:// as from a web server. Text is set with textContent, never
   parsed as HTML. */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // --- the index: filter the models as one types -------------------------------------
  function setUpFilter() {
    var input = document.getElementById("filter");
    var tableBody = document.querySelector("#models tbody");
    if (!input || !tableBody) return;
    var rows = Array.prototype.slice.call(tableBody.rows);
    var shown = document.getElementById("shown");
    var none = document.getElementById("none");
    input.parentNode.hidden = false;
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var count = 0;
      rows.forEach(function (row) {
        var text = row.getAttribute("data-search");
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        row.hidden = !match;
        if (match) count += 1;
      });
      shown.textContent = count + " of " + rows.length + " shown";
      none.hidden = count !== 0;
    }
    input.addEventListener("input", apply);
    apply();
  }

  // --- copy a command ------------------------------------------------------------------
  function setUpCopy() {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        function done() { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
        } else {
          field.select();
          try { if (document.execCommand("copy")) done(); } catch (e) { /* the text stays selected */ }
        }
      });
    });
  }

  // --- the model page: pre-select the two versions of the picker ---------------------------
  function setUpPicker() {
    Array.prototype.forEach.call(document.querySelectorAll("form.picker select[data-default]"), function (select) {
      select.value = select.getAttribute("data-default");
    });
  }

  // --- any two versions compared, as `mreg diff` does --------------------------------
  function isNumber(value) { return typeof value === "number" && isFinite(value); }

  function delta(a, b) {
    if (!isNumber(a) || !isNumber(b)) return null;
    return Number((b - a).toPrecision(12));  // 0.93 - 0.9 is 0.03, as mreg diff prints it
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function compareSection(left, right) {
    left = left || {}; right = right || {};
    var keys = Object.keys(left).concat(Object.keys(right).filter(function (k) { return !(k in left); }));
    return keys.map(function (key) {
      var change = !(key in left) ? "added" : !(key in right) ? "removed" : same(left[key], right[key]) ? "unchanged" : "changed";
      return { key: key, left: left[key], right: right[key], change: change, delta: delta(left[key], right[key]) };
    });
  }

  function compareFiles(left, right) {
    var byPath = function (files) { var map = {}; (files || []).forEach(function (f) { map[f.path] = f; }); return map; };
    var a = byPath(left), b = byPath(right), rows = [], unchanged = 0;
    Object.keys(b).sort().forEach(function (p) { if (!(p in a)) rows.push({ path: p, right: b[p].size, change: "added" }); });
    Object.keys(a).sort().forEach(function (p) { if (!(p in b)) rows.push({ path: p, left: a[p].size, change: "removed" }); });
    Object.keys(a).sort().forEach(function (p) {
      if (!(p in b)) return;
      if (a[p].digest === b[p].digest && !!a[p].executable === !!b[p].executable) { unchanged += 1; return; }
      rows.push({ path: p, left: a[p].size, right: b[p].size, change: "changed" });
    });
    return { rows: rows, unchanged: unchanged };
  }

  function text(value) {
    if (value === undefined) return "";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }

  function humanSize(size) {
    if (typeof size !== "number") return "";
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], value = size, i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
    return i === 0 ? size + " B" : value.toFixed(1) + " " + units[i];
  }

  function changeCell(row) {
    var shown = row.delta ? (row.delta > 0 ? "+" : "") + row.delta : row.change;
    return el("span", { "class": "change change-" + row.change }, [shown]);
  }

  function diffTable(rows, headers) {
    var head = el("tr", {}, headers.map(function (h) { return el("th", { scope: "col" }, [h]); }));
    var body = rows.map(function (cells) {
      return el("tr", {}, cells.map(function (c) { return el("td", {}, [c]); }));
    });
    return el("div", { "class": "scroll" }, [el("table", { "class": "diff" }, [el("thead", {}, [head]), el("tbody", {}, body)])]);
  }

  function section(title, id, content) {
    return el("section", { "aria-labelledby": id }, [el("h2", { id: id }, [title])].concat(content));
  }

  function renderComparison(target, meta, left, right) {
    var a = left.document, b = right.document;
    var parts = [];
    var link = function (doc) { return el("a", { href: meta.pages[doc.version] }, [doc.name + "@" + doc.version]); };
    parts.push(el("h1", {}, ["Compare ", link(a), " with ", link(b)]));
    parts.push(el("p", { "class": "lead" }, [a.digest === b.digest ? "The same artifact (identical bytes)." : "Different artifacts."]));
    var fields = meta.fields.filter(function (k) { return !same(a[k], b[k]); }).map(function (k) {
      return [k, text(a[k]), text(b[k]), changeCell({ change: "changed", delta: delta(a[k], b[k]) })];
    });
    parts.push(section("Fields", "fields", [fields.length ? diffTable(fields, ["Field", "From", "To", "Change"]) : el("p", {}, ["No field differs."])]));
    meta.sections.forEach(function (key) {
      var rows = compareSection(a[key], b[key]).map(function (r) {
        return [r.key, r.change === "added" ? "" : text(r.left), r.change === "removed" ? "" : text(r.right), changeCell(r)];
      });
      if (rows.length) parts.push(section(key.charAt(0).toUpperCase() + key.slice(1), "diff-" + key, [diffTable(rows, ["Key", "From", "To", "Change"])]));
    });
    if (a.kind === "directory" && b.kind === "directory") {
      var files = compareFiles(left.files, right.files);
      var rows = files.rows.map(function (r) {
        return [el("code", {}, [r.path]), humanSize(r.left), humanSize(r.right), changeCell(r)];
      });
      parts.push(section("Files", "diff-files", (rows.length ? [diffTable(rows, ["Path", "From", "To", "Change"])] : [])
        .concat([el("p", {}, [files.unchanged + " files unchanged."])])));
    }
    target.textContent = "";
    parts.forEach(function (p) { target.appendChild(p); });
    document.title = a.name + "@" + a.version + " vs " + b.version + " · mreg";
  }

  function setUpComparison() {
    var holder = document.getElementById("compare-data");
    var target = document.getElementById("comparison");
    if (!holder || !target) return;
    var meta = JSON.parse(holder.textContent);
    var query = new URLSearchParams(window.location.search);
    var wanted = [query.get("a"), query.get("b")];
    if (!wanted[0] || !wanted[1]) return;
    if (!(wanted[0] in meta.data) || !(wanted[1] in meta.data)) {
      target.textContent = "";
      target.appendChild(el("p", { role: "alert" }, [meta.name + " has no version " + (wanted[0] in meta.data ? wanted[1] : wanted[0]) + "."]));
      return;
    }
    // Each version's data file calls mregVersion(...) as it loads; they arrive in any order.
    var loaded = {};
    window.mregVersion = function (payload) {
      loaded[payload.document.version] = payload;
      if (wanted[0] in loaded && wanted[1] in loaded) renderComparison(target, meta, loaded[wanted[0]], loaded[wanted[1]]);
    };
    wanted.filter(function (v, i) { return wanted.indexOf(v) === i; }).forEach(function (version) {
      document.body.appendChild(el("script", { src: meta.data[version] }));
    });
  }

  setUpFilter();
  setUpCopy();
  setUpPicker();
  setUpComparison();
}());
