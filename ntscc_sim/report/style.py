"""Consistent colour / marker / line style per scheme across all report figures.

Known kinds get a fixed preferred colour and marker (so e.g. NTSCC looks the
same in every report); further schemes take the next unused palette entries in
order of appearance.

Example
-------
>>> st = SchemeStyles([("NTSCC", "ntscc"), ("BPG + LDPC", "bpg-ldpc")])
>>> st["NTSCC"]["color"], st["BPG + LDPC"]["marker"]
('#d62728', '^')
"""

from __future__ import annotations

import colorsys

from matplotlib import colors as mcolors

PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
           "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939",
           "#8c6d31", "#843c39", "#7b4173", "#3182bd"]
MARKERS = ["o", "^", "s", "v", "D", "P", "X", "*", "<", ">", "h", "p", "d", "H", "8", "1"]
#: kind -> (colour, marker) preferred for that kind.
KIND_STYLE = {
    "ntscc": ("#d62728", "o"),
    "bpg-ldpc": ("#1f77b4", "^"),
    "deep-jscc": ("#2ca02c", "s"),
    "bpg-capacity": ("#9467bd", "v"),
    "ntc-ldpc": ("#ff7f0e", "D"),
    "ntc-capacity": ("#8c564b", "P"),
}
OVERLAY_STYLE = {"color": "#444444", "linestyle": ":", "markers": ["x", "+", "1", "2", "3", "4"]}


class SchemeStyles:
    """Map scheme display name -> ``{"color", "marker", "linestyle"}`` for plotting.

    Parameters
    ----------
    schemes : list of (name, kind)
        In order of appearance; kind may be "".
    """

    def __init__(self, schemes):
        self._styles: dict[str, dict] = {}
        used_c, used_m = set(), set()
        pending = []
        for name, kind in schemes:
            if name in self._styles or name in (p[0] for p in pending):
                continue
            pref = KIND_STYLE.get((kind or "").lower())
            if pref and pref[0] not in used_c:
                self._styles[name] = self._make(pref[0], pref[1], kind)
                used_c.add(pref[0])
                used_m.add(pref[1])
            else:
                pending.append((name, kind))
        for name, kind in pending:
            c = next((c for c in PALETTE if c not in used_c), PALETTE[len(used_c) % len(PALETTE)])
            m = next((m for m in MARKERS if m not in used_m), MARKERS[len(used_m) % len(MARKERS)])
            used_c.add(c)
            used_m.add(m)
            self._styles[name] = self._make(c, m, kind)

    @staticmethod
    def _make(color: str, marker: str, kind: str) -> dict:
        dashed = (kind or "").lower().endswith("capacity")
        return {"color": color, "marker": marker, "linestyle": "--" if dashed else "-"}

    def __getitem__(self, name: str) -> dict:
        if name not in self._styles:  # unseen name (e.g. added later): stable fallback
            self._styles[name] = self._make(PALETTE[len(self._styles) % len(PALETTE)],
                                            MARKERS[len(self._styles) % len(MARKERS)], "")
        return dict(self._styles[name])

    def __contains__(self, name: str) -> bool:
        return name in self._styles


def shade(color: str, i: int, n: int) -> str:
    """Variant ``i`` of ``n`` of a colour (darker to lighter), for sub-curves of one scheme."""
    if n <= 1:
        return color
    r, g, b = mcolors.to_rgb(color)
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    lo, hi = max(0.2, l - 0.2), min(0.8, l + 0.25)
    l2 = lo + (hi - lo) * i / (n - 1)
    return mcolors.to_hex(colorsys.hls_to_rgb(h, l2, s))


LINESTYLES = ["-", "--", "-.", ":"]
