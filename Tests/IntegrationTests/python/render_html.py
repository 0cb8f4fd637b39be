#!/usr/bin/env python3
"""Renders the HTML report with headless Chromium (the Debian package) and reports what a reader
would see: the DOM after layout, and a screenshot's pixels — its size, how much of it is not the
page's white, and how many pixels have the score bars' green (#2da44e), so an empty or unstyled
page fails. The screenshot stays next to the report for a person to look at.

usage: render_html.py REPORT.html SCREENSHOT.png  -> one JSON object on stdout."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

report, shot = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
if browser is None:
    sys.exit("no chromium on PATH: scripts/test installs the Debian package")
profile = tempfile.mkdtemp(prefix="fp-chromium-")
base = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1600", "--virtual-time-budget=2000"]
try:
    subprocess.run(base + [f"--screenshot={shot}", "file://" + report], check=True, capture_output=True, timeout=120)
    dom = subprocess.run(base + ["--dump-dom", "file://" + report], check=True, capture_output=True, timeout=120).stdout.decode()
finally:
    shutil.rmtree(profile, ignore_errors=True)


def pixels(path):
    """The RGB(A) rows of a non-interlaced 8-bit PNG (what Chromium writes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, bpp, rows


width, height, bpp, rows = pixels(shot)
ink = green = 0
for row in rows:
    for x in range(0, len(row), bpp):
        r, g, b = row[x], row[x + 1], row[x + 2]
        if (r, g, b) != (255, 255, 255):
            ink += 1
        if abs(r - 0x2d) < 12 and abs(g - 0xa4) < 12 and abs(b - 0x4e) < 12:
            green += 1
print(json.dumps({
    "width": width, "height": height, "ink_fraction": ink / (width * height), "green_pixels": green,
    "dom_bars": dom.count('class="fill"'), "dom_has_title": "<h1" in dom, "dom_failing_tables": dom.count('class="failing"'),
}))
