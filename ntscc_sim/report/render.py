"""Render a report, given as a list of blocks, to Markdown or self-contained HTML.

Blocks are tuples: ``("h", level, text)``, ``("p", text)``, ``("table", Table)``,
``("img", png_path, caption)``, ``("code", text)``. Markdown links images by
relative path; HTML inlines them as base64 PNG.

Example
-------
>>> print(to_markdown([("h", 1, "Report"), ("p", "hello")], "."))
# Report
<BLANKLINE>
hello
<BLANKLINE>
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:.25em .55em}
th{background:#f3f3f3}td{text-align:right}td:first-child{text-align:left}caption{font-weight:600;padding:.3em}
figure{display:inline-block;margin:.5em;vertical-align:top}figure img{max-width:520px}
figcaption{font-size:.8em;color:#555}.notes{font-size:.8em;color:#555}pre{background:#f6f6f6;padding:.6em}"""


def to_markdown(blocks, base_dir) -> str:
    """Markdown text; image paths are made relative to ``base_dir``."""
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append("#" * b[1] + " " + b[2])
        elif kind == "p":
            out.append(b[1])
        elif kind == "table":
            t = b[1]
            out.append((f"*{t.caption}*\n\n" if t.caption else "") + t.to_markdown())
        elif kind == "img":
            rel = Path(os.path.relpath(b[1], base_dir)).as_posix()
            out.append(f"![{b[2]}]({rel})")
        elif kind == "code":
            out.append("```\n" + b[1] + "\n```")
        out.append("")
    return "\n".join(out)


def _img_html(path, caption: str) -> str:
    try:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    except OSError:
        return f"<p>(missing image {html.escape(str(path))})</p>"
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def to_html(blocks, title: str) -> str:
    """Self-contained HTML page (figures inline as base64 PNG)."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        kind = b[0]
        if kind == "h":
            out.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
        elif kind == "p":
            out.append(f"<p>{e(b[1])}</p>")
        elif kind == "table":
            out.append(b[1].to_html())
        elif kind == "img":
            out.append(_img_html(b[1], b[2]))
        elif kind == "code":
            out.append(f"<pre>{e(b[1])}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
