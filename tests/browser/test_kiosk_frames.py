"""The trace view's frames in Chromium, without a daemon: what a display frame draws and how
the compositor's scroll goes on from one segment to the next. The view is driven with explicit
frame times, packets of 32 samples at 250 Hz as the daemon sends them; the tile canvases'
pixels and the scroll segments are read back.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

#: A view of 2 lanes, 400 x 200 CSS px, 250 Hz, the default 5 s window; `packet(n)` stores
#: packet n (32 samples of a ±40 µV sine), `pixelsAt(column)` counts the opaque pixels of a
#: global device column in the tile that holds it, `columnAt(segment, t)` is the column the
#: rail shows at time t in a segment (a step per column, jump-end, as the animation runs).
_SETUP = """
  const { TraceView } = await import("/kiosk/traces.js");
  const { THEMES } = await import("/kiosk/colors.js");
  const { TILE_COLUMNS } = await import("/kiosk/tracetiles.js");
  const strip = document.createElement("div");
  strip.style.cssText = "position: absolute; left: 0; top: 0; width: 400px; height: 200px";
  document.body.append(strip);
  const view = new TraceView(strip, document.createElement("canvas"), { ...THEMES.dark }, () => {});
  view.setLanes([0, 1]);
  view.reset(2, 250);
  const scales = [50, 50];  // ±50 µV per lane, the same array at every frame (unchanged)
  const N = 32;
  const packet = (n) => {
    const samples = new Float32Array(2 * N);
    for (let i = 0; i < N; i += 1) {
      const v = 40e-6 * Math.sin((2 * Math.PI * 10 * (n * N + i)) / 250);
      samples[i] = v;
      samples[N + i] = -v;
    }
    view.push({ decimated: false, samples, sampleCount: N, firstSample: n * N }, 1);
  };
  const pixelsAt = (column) => {
    const tile = view.tiles.find((t) => t.number === Math.floor(column / TILE_COLUMNS));
    if (!tile) return 0;
    const x = column - tile.number * TILE_COLUMNS;
    const data = tile.context.getImageData(x, 0, 1, tile.canvas.height).data;
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) opaque += data[i] > 0 ? 1 : 0;
    return opaque;
  };
  const columnAt = (segment, t) => {
    const stepMs = 1000 / segment.steps;
    const step = Math.min(segment.steps, Math.floor((t - segment.startMs) / stepMs));
    return Math.round(segment.from / view.geometry.perColumn) - 1 + step;
  };
"""

_ANY_FRAME_DRAWS = (
    """async () => {"""
    + _SETUP
    + """
  for (let n = 0; n < 16; n += 1) packet(n);
  view.draw(1000, scales);  // the first picture
  view.draw(1017, scales);  // the scroll's first segment
  packet(16);
  const { perColumn } = view.geometry;
  const newest = Math.floor((17 * N) / perColumn) - 1;  // the last column packet 16 completes
  const before = pixelsAt(newest);
  view.draw(1050, scales);  // a frame 33 ms later, drawn for anything (a spectrum, a tap)
  return { before, after: pixelsAt(newest), edge: view.head, newest };
}"""
)


async def test_a_frame_drawn_for_anything_draws_the_new_columns(static_page: Page) -> None:
    """A packet's columns are drawn by the next display frame, whatever asked for it, so they
    need no frame of their own later (each frame on the main thread costs the renderer)."""
    result: dict[str, Any] = await static_page.evaluate(_ANY_FRAME_DRAWS)
    assert result["newest"] > result["edge"]  # ahead of the visible edge, waiting off-screen
    assert result["before"] == 0
    assert result["after"] > 0


_RENEWED = (
    """async () => {"""
    + _SETUP
    + """
  for (let n = 0; n < 16; n += 1) packet(n);
  view.draw(1000, scales);
  view.draw(1017, scales);
  const first = view.segment;
  let next = 16;  // packets come in real time: packet n at 1000 + (n - 15) * 128 ms
  const samples = [];
  for (const t of [1300, 1717, 1790]) {
    for (; 1000 + (next - 15) * 128 <= t; next += 1) packet(next);
    const shown = columnAt(view.segment, t);
    view.draw(t, scales);
    samples.push({ t, shown, after: columnAt(view.segment, t), same: view.segment === first });
  }
  const last = view.segment;
  return {
    samples,
    firstEnd: first.startMs + 1000,
    next: { startMs: last.startMs, steps: last.steps, animated: last.animation !== null },
  };
}"""
)


async def test_a_frame_near_a_segments_end_starts_the_next_without_a_jump(
    static_page: Page,
) -> None:
    """A frame drawn in the last part of a scroll segment starts the next segment there, from
    the column the rail shows and when it began showing it: no frame of its own at the
    segment's end, and the trace neither jumps nor stalls."""
    result: dict[str, Any] = await static_page.evaluate(_RENEWED)
    early, near, later = result["samples"]
    assert early["same"] is True  # mid-segment: the scroll goes on as it was
    assert near["same"] is False  # 300 ms before the end: the next segment has begun
    assert near["after"] == near["shown"]
    assert later["after"] == later["shown"]
    assert result["next"]["startMs"] <= near["t"]
    assert result["next"]["startMs"] < result["firstEnd"]
    assert result["next"]["animated"] is True
