// The traces panel: the last few seconds of the shown channels, one lane each. Drawing costs
// little: the canvas scrolls by whole device-pixel columns (one drawImage of itself) and only
// the new columns are drawn, each as one min..max stroke per lane from the ring of full-rate
// samples or envelope pairs, so the work per frame follows the pixels that changed, not the
// samples. A still picture (paused, no new column) is not touched. Lost samples lift the pen.
// The grid and time axis live on a canvas underneath, drawn only when the geometry changes.

import { channelColor } from "./colors.js";
import { EnvelopeRing } from "./ring.js";

/** The time windows a user can pick, in seconds. */
export const WINDOWS_S = [1, 2, 5, 10, 20];
export const DEFAULT_WINDOW_S = 5;
/** CSS pixels under the lanes for the time labels. */
export const AXIS_HEIGHT = 16;
const SLACK_S = 1;
const SNAP_S = 0.75;
const CATCH_UP_PER_S = 2;

/** Draws the traces; `push` stores frames, `draw` renders one display frame. */
export class TraceView {
  constructor(canvas, grid, theme) {
    this.element = canvas;
    this.context = canvas.getContext("2d");
    this.grid = grid;
    this.theme = theme;
    this.ring = null;
    this.frozen = null;
    this.rate = 0;
    this.entryRate = 0;
    this.windowS = DEFAULT_WINDOW_S;
    this.playhead = null;
    this.lastDrawMs = null;
    this.batch = 0;
    this.lanes = [];
    this.scales = null;
    this.head = null; // the global column index drawn at the right edge
    this.pen = null; // per lane: [column, y] where its stroke ended
    this.dirty = true;
    new ResizeObserver(() => {
      this.dirty = true;
    }).observe(canvas);
  }

  /** A new session of `rate` samples/s: a fresh ring for the window at `entryRate` entries/s. */
  reset(channelCount, rate, entryRate = rate) {
    this.rate = rate;
    this.entryRate = entryRate;
    this.ring = new EnvelopeRing(channelCount, this.capacity());
    this.frozen = this.frozen ? { ring: this.ring.snapshot(), playhead: null } : null;
    this.playhead = null;
    this.dirty = true;
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
    this.dirty = true;
  }

  /** Which channels get a lane, top to bottom. */
  setLanes(channels) {
    this.lanes = channels;
    this.dirty = true;
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

  /** Device pixel columns per second of trace at the canvas's current size. */
  columnsPerSecond() {
    const width = this.element.getBoundingClientRect().width || window.innerWidth;
    return Math.round(width * (window.devicePixelRatio || 1)) / this.windowS;
  }

  /** Freeze (true) or resume (false) the display; data keeps being stored meanwhile. */
  setPaused(paused) {
    const frozen = paused && this.ring;
    this.frozen = frozen ? { ring: this.ring.snapshot(), playhead: this.playhead } : null;
    this.dirty = true;
  }

  /** The ring and window end currently on screen, for the automatic scale. */
  visible() {
    if (this.frozen) return this.frozen;
    return { ring: this.ring, playhead: this.playhead };
  }

  /** Redraw everything at the next frame (after a change of scale or colours). */
  invalidate() {
    this.dirty = true;
  }

  /**
   * Render at time `nowMs`; `scales[c]` is channel c's lane half-height in µV. Only new
   * columns are drawn unless the geometry, the scale or the lanes changed.
   */
  draw(nowMs, scales) {
    this.advance(nowMs);
    if (scales !== this.scales) {
      this.scales = scales;
      this.dirty = true;
    }
    const { ring, playhead } = this.visible();
    if (this.dirty) this.layout();
    const { columns, perColumn } = this.geometry;
    if (!ring || playhead === null || columns < 1) {
      if (this.dirty) this.clear(0, columns);
      this.dirty = false;
      return;
    }
    const head = Math.floor(playhead / perColumn) - 1;
    if (this.dirty || this.head === null || head - this.head >= columns || head < this.head) {
      this.dirty = false;
      this.head = head;
      this.pen = this.lanes.map(() => null);
      this.clear(0, columns);
      this.drawColumns(ring, head - columns + 1, head);
      return;
    }
    const shift = head - this.head;
    if (shift === 0) return;
    const ctx = this.context;
    const { width, height } = this.element;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = "copy";
    ctx.drawImage(this.element, shift, 0, width - shift, height, 0, 0, width - shift, height);
    ctx.globalCompositeOperation = "source-over";
    this.clear(columns - shift, columns);
    const from = this.head + 1;
    this.head = head;
    this.drawColumns(ring, from, head);
  }

  /** Size the canvases to the element and draw the grid underneath. */
  layout() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.element.getBoundingClientRect();
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    for (const canvas of [this.element, this.grid]) {
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
    }
    const lanesHeight = Math.max(0, height - Math.round(AXIS_HEIGHT * ratio));
    this.geometry = {
      ratio,
      columns: width,
      lanesHeight,
      laneHeight: this.lanes.length ? lanesHeight / this.lanes.length : 0,
      perColumn: (this.rate * this.windowS) / width,
    };
    drawGrid(this.grid, this.geometry, this.windowS, this.lanes.length, this.theme);
  }

  clear(fromColumn, toColumn) {
    const ctx = this.context;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(fromColumn, 0, toColumn - fromColumn, this.element.height);
  }

  /** Draw global columns `first`..`last` (inclusive), the last one at the right edge. */
  drawColumns(ring, first, last) {
    const { columns, perColumn, laneHeight, ratio } = this.geometry;
    if (laneHeight <= 0 || last < first) return;
    const start = Math.max(first, this.head - columns + 1);
    const bounds = columnEntries(ring, start, last, perColumn);
    const ctx = this.context;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.lineWidth = 1.4 * ratio;
    ctx.lineJoin = "round";
    const xOf = (column) => columns - 1 - (this.head - column) + 0.5;
    this.lanes.forEach((c, lane) => {
      const mid = lane * laneHeight + laneHeight / 2;
      const pxPerUv = laneHeight / 2 / (this.scales?.[c] || 50);
      const toY = (uv) => mid - uv * pxPerUv;
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, lane * laneHeight, columns, laneHeight);
      ctx.clip();
      ctx.beginPath();
      let pen = this.pen[lane];
      for (let column = start; column <= last; column += 1) {
        const [from, end] = bounds[column - start];
        if (from >= end) continue;
        let low = Infinity;
        let high = -Infinity;
        for (let k = from; k < end; k += 1) {
          low = Math.min(low, ring.low(c, k));
          high = Math.max(high, ring.high(c, k));
        }
        const x = xOf(column);
        const joined = pen !== null && ring.joined(from) && pen[0] >= column - columns;
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

  /** Move the window's end smoothly with the clock, a little behind the newest sample. */
  advance(nowMs) {
    const elapsedS = this.lastDrawMs === null ? 0 : (nowMs - this.lastDrawMs) / 1000;
    this.lastDrawMs = nowMs;
    const ring = this.ring;
    if (this.frozen || !ring || ring.newest < 0) return;
    const lag = Math.max(1.5 * this.batch, 0.05 * this.rate);
    const target = ring.newest - lag;
    if (this.playhead === null || Math.abs(target - this.playhead) > SNAP_S * this.rate) {
      this.playhead = target;
      return;
    }
    this.playhead += elapsedS * this.rate;
    this.playhead += (target - this.playhead) * Math.min(1, elapsedS * CATCH_UP_PER_S);
    this.playhead = Math.min(this.playhead, ring.newest);
  }
}

/** Per column from `first` to `last`: the [from, end) entries that start in it. */
function columnEntries(ring, first, last, perColumn) {
  const bounds = [];
  let k = ring.search(first * perColumn);
  for (let column = first; column <= last; column += 1) {
    const columnEnd = (column + 1) * perColumn;
    const from = k;
    while (k < ring.count && ring.start(k) < columnEnd) k += 1;
    bounds.push([from, k]);
  }
  return bounds;
}

function drawGrid(canvas, geometry, windowS, laneCount, theme) {
  const ctx = canvas.getContext("2d");
  const { ratio, columns: width, lanesHeight, laneHeight } = geometry;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 1;
  for (let lane = 0; lane < laneCount; lane += 1) {
    const mid = Math.round(lane * laneHeight + laneHeight / 2) + 0.5;
    ctx.strokeStyle = theme.midline;
    ctx.beginPath();
    ctx.moveTo(0, mid);
    ctx.lineTo(width, mid);
    ctx.stroke();
    if (lane > 0) {
      const edge = Math.round(lane * laneHeight) + 0.5;
      ctx.strokeStyle = theme.laneEdge;
      ctx.beginPath();
      ctx.moveTo(0, edge);
      ctx.lineTo(width, edge);
      ctx.stroke();
    }
  }
  const step = windowS > 10 ? 5 : windowS > 5 ? 2 : windowS > 2 ? 1 : 0.5;
  ctx.font = `${12 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (let s = 0; s <= windowS + 1e-9; s += step) {
    const x = Math.round(width - (s / windowS) * width) + 0.5;
    ctx.strokeStyle = theme.gridLine;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, lanesHeight);
    ctx.stroke();
    ctx.fillStyle = theme.axisText;
    ctx.textAlign = s === 0 ? "right" : s + step > windowS + 1e-9 ? "left" : "center";
    const label = s === 0 ? "now" : `−${s} s`;
    ctx.fillText(label, s === 0 ? width - 2 : x, lanesHeight + 2 * ratio);
  }
}
