// The traces panel: the last few seconds of the shown channels, one lane each. Drawing costs
// little: the trace is a strip of narrow canvas tiles (tracetiles.js), each holding
// TILE_COLUMNS device-pixel columns; only new columns are drawn (one min..max stroke per lane and column, from the ring
// of full-rate samples or envelope pairs), a few frames' worth at a time and ahead of the
// right edge, where they wait off-screen. The strip scrolls by moving the rail that holds the
// tiles: the compositor animates it through a segment of SEGMENT_MS, a column per step, so the
// page itself changes only when columns are drawn or a segment begins, not at every frame
// (`dueMs` says when that is; the page sleeps in between). A tile that leaves on the left is
// reused on the right. A still picture (paused, no new data)
// is not touched. Lost samples lift the pen. The grid and time axis live on a canvas
// underneath, drawn only when the geometry changes. Markers are flags on the rail (an element
// each: a line over every lane of the page and its label), placed at their sample's column:
// they scroll with the tiles at no cost and are moved only when the rail's origin or the
// geometry changes.

import { channelColor } from "./colors.js";
import { EnvelopeRing } from "./ring.js";
import { TILE_COLUMNS, Tile, columnEntries, drawGrid } from "./tracetiles.js";

/** The time windows a user can pick, in seconds. */
export const WINDOWS_S = [1, 2, 5, 10, 20];
export const DEFAULT_WINDOW_S = 5;
/** CSS pixels under the lanes for the time labels. */
export const AXIS_HEIGHT = 16;
const SLACK_S = 1;
/** The rail's origin moves (a full redraw) before its tiles sit this far from it. */
const MAX_RAIL_PX = 1_000_000;
/** Flags kept at most; the oldest go first (they have long left the window by then). */
const MAX_MARKERS = 64;
const SNAP_S = 0.75;
/** How far the right edge runs behind the newest sample (at least 1.5 packets). */
const LAG_S = 0.15;
/** The compositor scrolls the rail through a segment this long before the page sets the next. */
const SEGMENT_MS = 1000;
/** A segment closes this share of the distance between the edge and where it should be. */
const CATCH_UP = 0.5;
/** A frame of its own for new columns comes at most this often (a frame drawn for any other
 * reason draws them too), or sooner when the edge comes near the last one drawn. */
const DRAW_EVERY_MS = 100;
/** More are drawn at once when the edge comes this close (in time) to the last drawn column. */
const DRAW_MARGIN_MS = 50;
/** A frame this close to the segment's end (ms) starts the next segment there and then. */
const RENEW_MS = 400;

/**
 * Draws the traces; `push` stores frames, `draw` renders one display frame and says when the
 * next is due. `wake()` is called when something changed that needs a frame.
 */
export class TraceView {
  constructor(strip, grid, theme, wake) {
    this.element = strip;
    this.rail = document.createElement("div");
    this.rail.className = "trace-rail";
    strip.append(this.rail);
    this.tiles = [];
    this.base = 0; // the tile number at the rail's origin
    this.grid = grid;
    this.theme = theme;
    this.ring = null;
    this.frozen = null;
    this.rate = 0;
    this.entryRate = 0;
    this.windowS = DEFAULT_WINDOW_S;
    this.playhead = null;
    this.batch = 0;
    this.lanes = [];
    this.scales = null;
    this.geometry = null;
    this.railLeft = null;
    this.head = null; // the global column index at the right edge
    this.drawn = null; // the last global column drawn (at or ahead of the edge)
    this.drawnMs = 0;
    this.segment = null; // the scroll under way: {startMs, from, steps, perMs, animation}
    this.pen = null; // per lane: [column, y] where its stroke ended
    this.markers = []; // {sample, element}, oldest first
    this.wake = wake;
    this.dirty = true;
    new ResizeObserver(() => this.invalidate()).observe(strip);
  }

  /** A new session of `rate` samples/s: a fresh ring for the window at `entryRate` entries/s. */
  reset(channelCount, rate, entryRate = rate) {
    this.rate = rate;
    this.entryRate = entryRate;
    this.ring = new EnvelopeRing(channelCount, this.capacity());
    this.frozen = this.frozen ? { ring: this.ring.snapshot(), playhead: null } : null;
    this.playhead = null;
    this.endSegment();
    this.invalidate();
  }

  /** Forget every flag (a new session: its sample indices start again). */
  clearMarkers() {
    for (const marker of this.markers) marker.element.remove();
    this.markers = [];
  }

  /** A flag labelled `label` at sample `sample` of the session (a marker, an annotation). */
  addMarker(sample, label) {
    const element = document.createElement("div");
    element.className = "marker-flag";
    element.dataset.sample = String(sample);
    element.dataset.label = label;
    const text = document.createElement("span");
    text.textContent = label;
    element.append(text);
    this.rail.append(element);
    const marker = { sample, element };
    this.markers.push(marker);
    if (this.markers.length > MAX_MARKERS) this.markers.shift().element.remove();
    if (this.geometry) this.placeMarker(marker);
  }

  /** Put a flag at its sample's column, relative to the rail's origin. */
  placeMarker(marker) {
    const { perColumn, ratio, lanesHeight } = this.geometry;
    const column = Math.floor(marker.sample / perColumn);
    const style = marker.element.style;
    style.transform = `translateX(${(column - this.base * TILE_COLUMNS) / ratio}px)`;
    style.height = `${lanesHeight / ratio}px`;
  }

  capacity() {
    return Math.ceil(this.entryRate * (this.windowS + SLACK_S));
  }

  /** Make room for `entryRate` entries per second, keeping what is stored. */
  setEntryRate(entryRate) {
    this.entryRate = entryRate;
    if (this.ring && this.capacity() > this.ring.capacity) {
      this.ring = this.ring.resized(this.capacity());
    }
  }

  /** Show the last `seconds` seconds. */
  setWindow(seconds) {
    this.windowS = seconds;
    this.setEntryRate(this.entryRate);
    this.invalidate();
  }

  /** Which channels get a lane, top to bottom. */
  setLanes(channels) {
    this.lanes = channels;
    this.invalidate();
  }

  /** Store an EEG frame, full-rate or decimated; `span` is source samples per entry. */
  push(frame, span) {
    if (!this.ring) return;
    if (frame.decimated) {
      this.ring.writePairs(frame.samples, frame.sampleCount, frame.firstSample, span);
    } else {
      this.ring.writeSamples(frame.samples, frame.sampleCount, frame.firstSample);
    }
    this.batch = frame.sampleCount * span;
  }

  /** Device pixel columns per second of trace at the strip's size (as of the last layout). */
  columnsPerSecond() {
    const columns = this.geometry?.columns;
    if (columns) return columns / this.windowS;
    const width = this.element.getBoundingClientRect().width || window.innerWidth;
    return Math.round(width * (window.devicePixelRatio || 1)) / this.windowS;
  }

  /** Freeze (true) or resume (false) the display; data keeps being stored meanwhile. */
  setPaused(paused) {
    // The picture freezes where the compositor has scrolled it by now, not at the last frame.
    if (paused && this.geometry) this.advance(performance.now());
    const frozen = paused && this.ring;
    this.frozen = frozen ? { ring: this.ring.snapshot(), playhead: this.playhead } : null;
    this.endSegment();
    this.invalidate();
  }

  /** The ring and window end currently on screen, for the automatic scale. */
  visible() {
    if (this.frozen) return this.frozen;
    return { ring: this.ring, playhead: this.playhead };
  }

  /** Redraw everything at the next frame (after a change of scale, colours or size). */
  invalidate() {
    this.dirty = true;
    this.wake();
  }

  /**
   * Render at time `nowMs`; `scales[c]` is channel c's lane half-height in µV. Only new
   * columns are drawn unless the geometry, the scale or the lanes changed. Returns when the
   * next frame is due (`dueMs`).
   */
  draw(nowMs, scales) {
    if (scales !== this.scales) {
      this.scales = scales;
      this.dirty = true;
    }
    if (this.dirty) this.layout();
    this.advance(nowMs);
    const { ring, playhead } = this.visible();
    const { columns, perColumn } = this.geometry;
    if (!ring || playhead === null || columns < 1) {
      if (this.dirty) for (const tile of this.tiles) tile.clear(null);
      this.dirty = false;
      return this.dueMs(nowMs);
    }
    const head = Math.floor(playhead / perColumn) - 1;
    // Columns are drawn once complete (a later sample has arrived), up to a tile ahead.
    const complete = Math.floor((ring.newest + 1) / perColumn) - 1;
    const last = this.frozen ? head : Math.min(complete, head + TILE_COLUMNS - 1);
    const far = (head / TILE_COLUMNS - this.base) * TILE_COLUMNS > MAX_RAIL_PX;
    if (this.dirty || this.drawn === null || head - columns > this.drawn || far) {
      this.dirty = false;
      this.head = head;
      this.base = Math.floor((head - columns + 1) / TILE_COLUMNS);
      this.pen = this.lanes.map(() => null);
      for (const tile of this.tiles) tile.clear(null);
      this.drawn = Math.max(last, head - columns);
      this.drawnMs = nowMs;
      this.drawColumns(ring, head - columns + 1, last);
      for (const marker of this.markers) this.placeMarker(marker);
      this.restartScroll();
    } else {
      this.head = head;
      // Any frame draws the new complete columns: the frame, not the stroke, is what costs.
      if (last > this.drawn) {
        const from = this.drawn + 1;
        this.drawn = last;
        this.drawnMs = nowMs;
        this.drawColumns(ring, from, last);
      }
    }
    this.scroll();
    return this.dueMs(nowMs);
  }

  /** Columns between the edge and the last one drawn below which more are drawn at once. */
  margin() {
    return (DRAW_MARGIN_MS / 1000) * (this.geometry.columns / this.windowS);
  }

  /**
   * When `draw` next has something to do (performance.now ms; at most `nowMs` for now): a
   * change waiting, the segment's end (or the newest sample's, if sooner), or new complete
   * columns' turn (DRAW_EVERY_MS after the last, or sooner when the scrolling edge comes
   * within `margin` of them). A frame drawn sooner for another reason does both. Infinity
   * while the rail stands and nothing can move it but new data (ask again after `push`) or a
   * change (`invalidate` wakes the page).
   */
  dueMs(nowMs) {
    if (this.dirty) return nowMs;
    const ring = this.ring;
    if (this.frozen || !ring || ring.newest < 0 || !this.geometry) return Infinity;
    const { perColumn } = this.geometry;
    const segment = this.segment;
    if (!segment) return this.playhead === null || this.nextSegment(nowMs) ? nowMs : Infinity;
    // The segment ends early where the scroll would pass the newest sample (data came late).
    const end = segment.startMs + Math.min(SEGMENT_MS, (ring.newest - segment.from) / segment.perMs);
    if (this.drawn === null || this.head === null) return end;
    const complete = Math.floor((ring.newest + 1) / perColumn) - 1;
    if (Math.min(complete, this.head + TILE_COLUMNS - 1) <= this.drawn) return end;
    const near = (this.drawn - this.margin() + 1) * perColumn;
    const nearMs = segment.startMs + (near - segment.from) / segment.perMs;
    return Math.min(end, this.drawnMs + DRAW_EVERY_MS, nearMs);
  }

  /** Size the tiles to the strip and draw the grid underneath. */
  layout() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.element.getBoundingClientRect();
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.grid.width !== width || this.grid.height !== height) {
      this.grid.width = width;
      this.grid.height = height;
    }
    // The window spans ceil(width / TILE_COLUMNS) + 1 tiles; columns drawn ahead one more.
    const count = Math.ceil(width / TILE_COLUMNS) + 2;
    while (this.tiles.length < count) this.tiles.push(new Tile(this.rail));
    while (this.tiles.length > count) this.tiles.pop().remove();
    for (const tile of this.tiles) tile.size(height, ratio);
    const lanesHeight = Math.max(0, height - Math.round(AXIS_HEIGHT * ratio));
    this.geometry = {
      ratio,
      columns: width,
      lanesHeight,
      laneHeight: this.lanes.length ? lanesHeight / this.lanes.length : 0,
      perColumn: (this.rate * this.windowS) / width,
    };
    drawGrid(this.grid, this.geometry, this.windowS, this.lanes.length, this.theme);
    this.endSegment();
  }

  /** The tile that holds global tile number `number`, cleared and placed when it held another. */
  tileFor(number) {
    const count = this.tiles.length;
    const tile = this.tiles[((number % count) + count) % count];
    if (tile.number !== number) {
      tile.clear(number);
      tile.moveTo(((number - this.base) * TILE_COLUMNS) / this.geometry.ratio);
    }
    return tile;
  }

  /** The rail's offset in CSS pixels that puts global column `head` at the right edge. */
  railOffset(head) {
    const { columns, ratio } = this.geometry;
    return (columns - 1 - head + this.base * TILE_COLUMNS) / ratio;
  }

  /**
   * Keep the rail where the edge is: the compositor animates a segment (a column per step,
   * exactly as `advance` counts them); without one the rail stands at the edge.
   */
  scroll() {
    const segment = this.segment;
    if (!segment) {
      const left = this.railOffset(this.head);
      if (left !== this.railLeft) {
        this.railLeft = left;
        this.rail.style.transform = `translateX(${left}px)`;
      }
      return;
    }
    if (segment.animation) return;
    const first = Math.round(segment.from / this.geometry.perColumn) - 1;
    const keyframes = [first, first + segment.steps].map((head) => ({
      transform: `translateX(${this.railOffset(head)}px)`,
    }));
    segment.animation = this.rail.animate(keyframes, {
      duration: SEGMENT_MS,
      easing: `steps(${segment.steps}, jump-end)`,
      fill: "forwards",
    });
    segment.animation.startTime = segment.startMs;
  }

  /** Animate the segment under way again (the rail's origin moved). */
  restartScroll() {
    if (this.segment?.animation) {
      this.segment.animation.cancel();
      this.segment.animation = null;
    }
  }

  /** Stop the scroll under way; the rail stands where `scroll` puts it next. */
  endSegment() {
    this.segment?.animation?.cancel();
    this.segment = null;
    this.railLeft = null;
  }

  /** Draw global columns `first`..`last` (inclusive), the last one at the right edge. */
  drawColumns(ring, first, last) {
    const { columns, perColumn } = this.geometry;
    if (this.geometry.laneHeight <= 0 || last < first) return;
    const start = Math.max(first, this.head - columns + 1);
    const bounds = columnEntries(ring, start, last, perColumn);
    for (let number = Math.floor(start / TILE_COLUMNS); number * TILE_COLUMNS <= last; number += 1) {
      const from = Math.max(start, number * TILE_COLUMNS);
      const to = Math.min(last, (number + 1) * TILE_COLUMNS - 1);
      this.drawInTile(this.tileFor(number), ring, bounds, start, from, to);
    }
  }

  drawInTile(tile, ring, bounds, start, from, to) {
    const { columns, laneHeight, ratio } = this.geometry;
    const ctx = tile.context;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.lineWidth = 1.4 * ratio;
    ctx.lineJoin = "round";
    const origin = tile.number * TILE_COLUMNS;
    const xOf = (column) => column - origin + 0.5;
    this.lanes.forEach((c, lane) => {
      const mid = lane * laneHeight + laneHeight / 2;
      const pxPerUv = laneHeight / 2 / (this.scales?.[c] || 50);
      const toY = (uv) => mid - uv * pxPerUv;
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, lane * laneHeight, TILE_COLUMNS, laneHeight);
      ctx.clip();
      ctx.beginPath();
      let pen = this.pen[lane];
      for (let column = from; column <= to; column += 1) {
        const [first, end] = bounds[column - start];
        if (first >= end) continue;
        let low = Infinity;
        let high = -Infinity;
        for (let k = first; k < end; k += 1) {
          low = Math.min(low, ring.low(c, k));
          high = Math.max(high, ring.high(c, k));
        }
        const x = xOf(column);
        const joined = pen !== null && ring.joined(first) && pen[0] >= column - columns;
        if (joined) {
          ctx.moveTo(xOf(pen[0]), pen[1]);
          ctx.lineTo(x, toY(low));
        } else {
          ctx.moveTo(x, toY(low));
        }
        ctx.lineTo(x, toY(high) - (high === low ? 0.01 : 0));
        pen = [column, toY(high)];
      }
      this.pen[lane] = pen;
      ctx.strokeStyle = channelColor(c, this.theme.name);
      ctx.stroke();
      ctx.restore();
    });
  }

  /**
   * Move the window's end with the clock, LAG_S behind the newest sample: in segments of
   * SEGMENT_MS at a steady speed (the stream's rate, plus CATCH_UP of the distance to where
   * the end should be), starting at a column's edge, so the compositor can scroll each one
   * alone. The end never passes the newest sample: it stands still while no data comes.
   */
  advance(nowMs) {
    const ring = this.ring;
    if (this.frozen || !ring || ring.newest < 0) return;
    const target = this.target();
    if (this.playhead === null || Math.abs(target - this.playhead) > SNAP_S * this.rate) {
      this.playhead = target;
      this.endSegment();
      return;
    }
    const segment = this.segment;
    let startMs = nowMs;
    if (segment) {
      const elapsed = Math.min(nowMs - segment.startMs, SEGMENT_MS);
      const playhead = segment.from + elapsed * segment.perMs;
      this.playhead = Math.min(playhead, ring.newest);
      if (elapsed < SEGMENT_MS - RENEW_MS && playhead <= ring.newest) return;
      // The next segment starts at the step the rail shows now, where that step began, so
      // that a frame drawn for another reason near the end renews it without a jump.
      const { perColumn } = this.geometry;
      const stepMs = SEGMENT_MS / segment.steps;
      const step = Math.floor((this.playhead - segment.from) / perColumn + 1e-9);
      startMs = segment.startMs + step * stepMs;
      this.playhead = segment.from + step * perColumn;
      if (nowMs - startMs > stepMs) startMs = nowMs;
      this.endSegment();
    }
    this.segment = this.nextSegment(startMs);
    if (this.segment) this.playhead = this.segment.from;
  }

  /** Where the window's end should be: LAG_S (at least 1.5 packets) behind the newest sample. */
  target() {
    return this.ring.newest - Math.max(1.5 * this.batch, LAG_S * this.rate);
  }

  /** The segment that starts at `startMs` from the playhead's column, or null while no new
   * column is complete. */
  nextSegment(startMs) {
    const { perColumn } = this.geometry;
    if (this.ring.newest - this.playhead < perColumn) return null;
    const from = Math.floor(this.playhead / perColumn) * perColumn;
    const wanted = (this.rate * SEGMENT_MS) / 1000 + CATCH_UP * (this.target() - from);
    const steps = Math.round(wanted / perColumn);
    if (steps < 1) return null;
    return { startMs, from, steps, perMs: (steps * perColumn) / SEGMENT_MS };
  }
}
