"""Open results/report/index.html in headless Chromium and check that it really renders.

    python -m execbench check-report [results/report/index.html] [--screenshot out.png]

Loads a copy of the report with a small probe script appended (the report itself carries no
JavaScript), waits for the load event, dumps the DOM and checks:
  - every <img> finished loading with a non-zero natural width (figures decoded),
  - every <figure> holds one loaded image,
  - the answer and comparison tables have rows.
It also reports where the study summary, its no-answer box and the answer start (px from the
top; viewport_height is the first screen).
Also keeps a screenshot of the whole page, up to 16000 px tall (default: next to the report,
index.screenshot.png), and with --section ID one of that section alone (index.<ID>.png: the
element with that id, or the block it heads, up to the next heading of its level), for sections a
long report puts beyond 16000 px.
Also keeps a screenshot of the top of the page (default: next to the report, index.screenshot.png).
`screenshot()` takes one at a given window size: the first screen a reader sees on a laptop
(1280 x 800 CSS px) or a phone (390 x 844 CSS px, the width of a current iPhone, at device scale
factor 1 so the PNG's pixels are CSS pixels).
Exit status 0 when all checks pass; the findings are printed as JSON.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

PROBE = """<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
  var rows = function (sel) { return document.querySelectorAll(sel + " tbody tr").length; };
  var top = function (sel) { var el = document.querySelector(sel);
                             return el ? el.getBoundingClientRect().top + window.scrollY : null; };
  var result = {images: imgs.length, images_loaded: ok, figures: document.querySelectorAll("figure").length,
                headline_rows: rows("table.headline"), relative_rows: rows("table.relative"),
                tables: document.querySelectorAll("table").length,
                viewport_height: window.innerHeight,
                page_height: document.documentElement.scrollHeight,
                summary_top: top("#summary"), no_answer_top: top(".noanswer"), answer_top: top("#answer"),
                min_natural_width: Array.prototype.reduce.call(imgs, function (m, im) {
                  return Math.min(m, im.naturalWidth); }, 1e9)};
  var pre = document.createElement("pre");
  pre.id = "execbench-probe";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=10000"]


LAPTOP = (1280, 800)
PHONE = (390, 844)
SCREENSHOT_MAX_PX = 16000  # Chromium's largest window side that still renders reliably

# Keeps one section of the page: the element with the id, widened to the block it heads (while it
# is its parent's first child), then everything before that block and everything from the next
# heading of the same level on (for a folded <details> section: the next <details>) is removed;
# style elements stay, and the section is shown unfolded.
SECTION_ONLY = """<script>
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById(%s);
  if (!el) { document.body.dataset.section = "missing"; return; }
  var level = /^H[1-6]$/.test(el.tagName) ? +el.tagName[1] : 6;
  // a folded section (<details id=...>) is opened, and ends where the next folded one starts
  var folded = el.tagName === "DETAILS";
  for (var d = el; d; d = d.parentElement) { if (d.tagName === "DETAILS") d.open = true; }
  var block = el;
  while (block.parentNode !== document.body && block.parentNode.firstElementChild === block) block = block.parentNode;
  var keep = function (n) { return n.nodeName === "STYLE" || n.nodeName === "SCRIPT"; };
  var heads = function (n) { return n.nodeType === 1 && ((/^H[1-6]$/.test(n.tagName) && +n.tagName[1] <= level)
                                                         || (folded && n.tagName === "DETAILS")); };
  for (var node = block; node !== document.body; node = node.parentNode) {
    for (var before = node.previousSibling; before; ) { var prev = before.previousSibling;
                                                       if (!keep(before)) before.parentNode.removeChild(before); before = prev; }
    var after = node.nextSibling, cut = false;
    while (after) { var next = after.nextSibling; cut = cut || heads(after);
                    if (cut && !keep(after)) after.parentNode.removeChild(after); after = next; }
  }
});
</script>"""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")


def screenshot(page: Path, png: Path, width: int, height: int, timeout_s: float = 120) -> Path:
    """A PNG of `page` as a window of width x height CSS pixels shows it (the first screen).

    Raises FileNotFoundError without Chromium, RuntimeError when no PNG was written (with
    Chromium's last words)."""
    page, png = Path(page).resolve(), Path(png).resolve()
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="execbench-browser-") as tmp:
        run = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
                              "--force-device-scale-factor=1", f"--window-size={width},{height}",
                              f"--screenshot={png}", page.as_uri()],
                             capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot {png}: {run.stderr[-1000:]}")
    return png


def check_report(index_html: Path, screenshot: Path | None = None, timeout_s: float = 120) -> dict:
    """Render index_html in headless Chromium; return the probe's findings plus 'ok' and 'problems'."""
    index_html = Path(index_html).resolve()
    html = index_html.read_text()
    if "</body>" not in html:
        return {"ok": False, "problems": [f"{index_html}: no </body> tag"]}
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="execbench-browser-") as tmp:
        probe_page = Path(tmp) / "probe.html"
        probe_page.write_text(html.replace("</body>", PROBE + "</body>", 1))
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile"]
        # a laptop's first screen, for where the summary sits (viewport_height, *_top)
        dom = subprocess.run([*base, "--window-size=1280,900", "--dump-dom", probe_page.as_uri()],
                             capture_output=True, text=True,
                             timeout=timeout_s)
    match = re.search(r'<pre id="execbench-probe">(.*?)</pre>', dom.stdout, re.S)
    if not match:
        return {"ok": False, "problems": ["probe did not run (page did not load?)",
                                          dom.stderr[-2000:]]}
    found = json.loads(match.group(1).replace("&quot;", '"'))
    if screenshot is not None:
        # A window as tall as the page (up to SCREENSHOT_MAX_PX): the whole report as a reader
        # scrolls it, the sections at its end included.
        height = max(900, min(int(found.get("page_height") or 4200), SCREENSHOT_MAX_PX))
        with tempfile.TemporaryDirectory(prefix="execbench-browser-") as tmp:
            subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--screenshot={screenshot}",
                            f"--window-size=1280,{height}", index_html.as_uri()],
                           capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
    problems = []
    if found["images"] == 0:
        problems.append("no images in the report")
    if found["images_loaded"] != found["images"]:
        problems.append(f"{found['images'] - found['images_loaded']} of {found['images']} images failed to load")
    if found["figures"] != found["images"]:
        problems.append(f"{found['figures']} <figure> elements but {found['images']} images")
    if found["headline_rows"] == 0:
        problems.append("answer table (table.headline) has no rows")
    if found["relative_rows"] == 0:
        problems.append("comparison table (table.relative) has no rows")
    if screenshot is not None and not (Path(screenshot).exists() and Path(screenshot).stat().st_size > 0):
        problems.append(f"no screenshot written to {screenshot}")
    found.update(ok=not problems, problems=problems, screenshot=str(screenshot) if screenshot else None)
    return found


def section_screenshot(index_html: Path, section_id: str, screenshot: Path, timeout_s: float = 120) -> dict:
    """A screenshot of one section of the report (SECTION_ONLY), as tall as the section (up to
    SCREENSHOT_MAX_PX). Returns {"section", "found", "height", "screenshot", "folded_sections"};
    found is False (and nothing is written) when the page has no element with that id;
    folded_sections: the ids of the <details> sections left on the trimmed page, each with whether
    it is shown open (a folded section asked for: only itself, open)."""
    html = Path(index_html).resolve().read_text()
    trimmed = html.replace("</body>", SECTION_ONLY % json.dumps(section_id) + "</body>", 1)
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="execbench-browser-") as tmp:
        page = Path(tmp) / "section.html"
        page.write_text(trimmed.replace("</body>", PROBE + "</body>", 1))
        dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", "--window-size=1280,900",
                              "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=timeout_s)
        match = re.search(r'<pre id="execbench-probe">(.*?)</pre>', dom.stdout, re.S)
        found = bool(match) and 'data-section="missing"' not in dom.stdout
        folded = {m.group(2): m.group(1) is not None or " open" in m.group(0)
                  for m in re.finditer(r'<details( open="")? id="([^"]+)"[^>]*>', dom.stdout)}
        out = {"section": section_id, "found": found, "height": None, "screenshot": None, "folded_sections": folded}
        if not found:
            return out
        height = max(300, min(int(json.loads(match.group(1).replace("&quot;", '"'))["page_height"]), SCREENSHOT_MAX_PX))
        page.write_text(trimmed)
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--screenshot={screenshot}",
                        f"--window-size=1280,{height}", page.as_uri()],
                       capture_output=True, text=True, timeout=timeout_s, cwd=tmp)
    ok = Path(screenshot).exists() and Path(screenshot).stat().st_size > 0
    return {**out, "height": height, "screenshot": str(screenshot) if ok else None}
