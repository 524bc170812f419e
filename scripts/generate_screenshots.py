#!/usr/bin/env python3
"""Write docs/images/site-*.png: the web view of a demo registry, as the README shows it.

    python scripts/generate_screenshots.py

It registers the models of examples/ in a temporary registry through the
command line (a few versions with metrics, promotions with reasons, a model
derived from another), writes the site with `mreg site`, and photographs four
pages with Debian's headless Chromium (`apt-get install chromium`): the index,
a model, a version and two versions compared. Nothing is fetched from the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
TARGET = os.path.join(ROOT, "docs", "images")
WIDTH = 1100
PAGES = {  # file: (page, height)
    "site-index.png": ("index.html", 420),
    "site-model.png": ("models/sentiment/_index.html", 1000),
    "site-version.png": ("models/sentiment/_v/1.2.0.html", 1250),
    "site-compare.png": ("models/sentiment/_compare.html?a=1.0.0&b=1.2.0", 900),
}


def mreg(project: str, *args: str) -> str:
    env = dict(os.environ, MREG_USER="alice@example.com", NO_COLOR="1")
    done = subprocess.run([sys.executable, "-m", "mreg", *args], cwd=project, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode:
        sys.exit(f"mreg {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def demo_registry(project: str) -> None:
    mreg(project, "init", "-q")
    model = os.path.join(EXAMPLES, "sentiment.safetensors")
    folder = os.path.join(EXAMPLES, "sentiment-v2")
    shutil.copytree(os.path.join(EXAMPLES, "data"), os.path.join(project, "data"))
    data = "data/train.csv"  # relative, as a user types it: the pictures show no path of this machine
    metadata = os.path.join(EXAMPLES, "sentiment.toml")
    mreg(project, "register", "sentiment", model, "--metadata-file", metadata, "--dataset", f"train={data}", "-q")
    steps = [("1.0.1", "0.915", "0.893", "retrained on the cleaned corpus"),
             ("1.1.0", "0.928", "0.91", "wider embedding"),
             ("1.2.0", "0.941", "0.925", "distilled from the large model")]
    for version, accuracy, f1, description in steps:
        mreg(project, "register", "sentiment", folder, "--version", version, "-m", f"accuracy={accuracy}",
             "-m", f"f1={f1}", "-p", "lr=0.0003", "-t", "team=nlp", "-d", description, "--framework", "pytorch",
             "--dataset", f"train={data}", "-q")
    mreg(project, "promote", "sentiment@1.0.1", "--to", "production", "-r", "beats 1.0.0 on the holdout set", "-q")
    mreg(project, "promote", "sentiment@1.1.0", "--to", "production", "-r", "A/B test: +1.3 points accuracy", "-q")
    mreg(project, "promote", "sentiment@1.2.0", "--to", "staging", "-r", "candidate for next week", "-q")
    mreg(project, "register", "sentiment-small", model, "-m", "accuracy=0.902", "-d", "distilled for mobile", "-q")
    # The small model was distilled from sentiment@1.2.0, which serves a canary beside 1.1.0.
    mreg(project, "register", "sentiment-small", model, "--version", "1.1.0", "--from", "sentiment@1.2.0",
         "-m", "accuracy=0.911", "-q")
    mreg(project, "deploy", "sentiment@1.1.0", "--env", "prod", "-q")
    mreg(project, "deploy", "sentiment@1.2.0", "--env", "prod", "--traffic", "10", "-q")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("chromium is not installed: apt-get install chromium")


def photograph(browser: str, url: str, target: str, profile: str, height: int) -> None:
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--no-first-run", "--disable-extensions", "--disable-background-networking",
                    f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}", "--virtual-time-budget=2000",
                    f"--screenshot={target}", url], check=True, capture_output=True, timeout=120)


def main() -> int:
    browser = chromium()
    os.makedirs(TARGET, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        project = os.path.join(work, "project")
        os.mkdir(project)
        demo_registry(project)
        site = os.path.join(work, "site")
        mreg(project, "site", "-o", site, "-q")
        for name, (page, height) in PAGES.items():
            path, _, query = page.partition("?")
            url = "file://" + os.path.join(site, path) + (f"?{query}" if query else "")
            target = os.path.join(TARGET, name)
            photograph(browser, url, target, os.path.join(work, "profile"), height)
            print(f"wrote {os.path.relpath(target, ROOT)} ({os.path.getsize(target) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
