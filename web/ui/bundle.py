#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Build step: inline web/ui/index.html's stylesheet and scripts into one
# self-contained HTML file (no network, no other file needed).
# Usage: bundle.py OUT.html INDEX.html
import pathlib
import re
import sys


def main():
    out, index = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    root = index.parent
    html = index.read_text(encoding="utf-8")

    def css(m):
        text = (root / m.group(1)).read_text(encoding="utf-8")
        return "<style>\n" + text.replace("</style", "<\\/style") + "</style>"

    def js(m):
        text = (root / m.group(1)).read_text(encoding="utf-8")
        return "<script>\n" + text.replace("</script", "<\\/script") + "</script>"

    html, n_css = re.subn(r'<link rel="stylesheet" href="([^"]+)">', css, html)
    html, n_js = re.subn(r'<script src="([^"]+)"></script>', js, html)
    if n_css == 0 or n_js == 0:
        sys.exit(f"bundle.py: {index}: found {n_css} stylesheets and {n_js} scripts to inline")
    # The bundle must not reach out: no external references left.
    # (data: URIs, such as the icon, are inline.)
    for bad in (r'<script[^>]+src=', r'<link(?![^>]*href="data:)[^>]+href=', r'https?://'):
        m = re.search(bad, html)
        if m:
            sys.exit(f"bundle.py: external reference left in the page: {html[m.start():m.start() + 80]!r}")
    out.write_text(html, encoding="utf-8")


if __name__ == "__main__":
    main()
