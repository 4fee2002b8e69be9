// The traces panel: the last 5 s of every channel, one lane each, scrolling smoothly at display
// rate from a ring buffer of full-rate samples or min/max envelope pairs; lost samples lift the
// pen instead of drawing a line across the gap.

import { SharpCanvas } from "./canvas.js";
import { channelColor } from "./colors.js";
import { EnvelopeRing } from "./ring.js";

export const WINDOW_S = 5;
const SLACK_S = 1;
const AXIS_HEIGHT = 20;
const SNAP_S = 0.75;
const CATCH_UP_PER_S = 2;

/** Draws the traces canvas; `push` stores frames, `draw` renders one display frame. */
export class TraceView {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.ring = null;
    this.frozen = null;
    this.rate = 0;
    this.playhead = null;
    this.lastDrawMs = null;
    this.batch = 0;
    this.drawnPicture = "";
  }

  /**
   * Start a new session of `rate` samples per second: fresh buffers sized for the window at
   * `entryRate` entries per second (the envelope's pair rate when decimated, else `rate`).
   */
  reset(channelCount, rate, entryRate = rate) {
    this.rate = rate;
    this.ring = new EnvelopeRing(channelCount, capacityFor(entryRate));
    this.frozen = this.frozen ? { ring: this.ring.snapshot(), playhead: null } : null;
    this.playhead = null;
  }

  /** Make room for `entryRate` entries per second, keeping what is stored. */
  setEntryRate(entryRate) {
    if (this.ring && capacityFor(entryRate) > this.ring.capacity) {
      this.ring = this.ring.resized(capacityFor(entryRate));
    }
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
    const width = this.canvas.element.getBoundingClientRect().width || window.innerWidth;
    return Math.round(width * (window.devicePixelRatio || 1)) / WINDOW_S;
  }

  /** Freeze (true) or resume (false) the display; data keeps being stored meanwhile. */
  setPaused(paused) {
    const frozen = paused && this.ring;
    this.frozen = frozen ? { ring: this.ring.snapshot(), playhead: this.playhead } : null;
  }

  /** The ring and window end currently on screen, for the automatic scale. */
  visible() {
    if (this.frozen) return this.frozen;
    return { ring: this.ring, playhead: this.playhead };
  }

  /** Render at time `nowMs` with lanes of ± `scaleUv` µV; a still picture is not redrawn. */
  draw(nowMs, scaleUv) {
    this.advance(nowMs);
    const { ring, playhead } = this.visible();
    const picture = [ring?.newest, playhead, scaleUv, window.devicePixelRatio].join();
    if (picture === this.drawnPicture && !this.canvas.dirty) return;
    this.drawnPicture = picture;
    const ctx = this.canvas.begin();
    const { width } = this.canvas;
    const lanesHeight = Math.max(0, this.canvas.height - AXIS_HEIGHT);
    const channels = ring ? ring.channelCount : 0;
    drawTimeAxis(ctx, width, lanesHeight);
    if (channels === 0) return;
    const laneHeight = lanesHeight / channels;
    drawLanes(ctx, width, laneHeight, channels);
    if (playhead !== null) {
      const span = WINDOW_S * this.rate;
      for (let c = 0; c < channels; c += 1) {
        const lane = { top: c * laneHeight, height: laneHeight, uvToPx: laneHeight / 2 / scaleUv };
        drawChannel(ctx, ring, c, lane, playhead - span, span, width);
      }
    }
    drawScaleBar(ctx, laneHeight, scaleUv);
  }

  /** Move the window's end smoothly with the clock, a little behind the newest sample. */
  advance(nowMs) {
    const elapsedS = this.lastDrawMs === null ? 0 : (nowMs - this.lastDrawMs) / 1000;
    this.lastDrawMs = nowMs;
    const ring = this.ring;
    if (!ring || ring.newest < 0) return;
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

function capacityFor(entryRate) {
  return Math.ceil(entryRate * (WINDOW_S + SLACK_S));
}

function drawTimeAxis(ctx, width, lanesHeight) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.lineWidth = 1;
  for (let s = 0; s <= WINDOW_S; s += 1) {
    const x = Math.round(width - (s / WINDOW_S) * width) + 0.5;
    ctx.strokeStyle = "rgba(255,255,255,0.06)";
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, lanesHeight);
    ctx.stroke();
    ctx.fillStyle = "#7d8b99";
    ctx.textAlign = s === 0 ? "right" : s === WINDOW_S ? "left" : "center";
    ctx.fillText(s === 0 ? "now" : `−${s} s`, s === 0 ? width - 2 : x, lanesHeight + 4);
  }
}

function drawLanes(ctx, width, laneHeight, channels) {
  ctx.lineWidth = 1;
  for (let c = 0; c < channels; c += 1) {
    const mid = Math.round(c * laneHeight + laneHeight / 2) + 0.5;
    ctx.strokeStyle = "rgba(255,255,255,0.05)";
    ctx.beginPath();
    ctx.moveTo(0, mid);
    ctx.lineTo(width, mid);
    ctx.stroke();
    if (c > 0) {
      const edge = Math.round(c * laneHeight) + 0.5;
      ctx.strokeStyle = "rgba(255,255,255,0.09)";
      ctx.beginPath();
      ctx.moveTo(0, edge);
      ctx.lineTo(width, edge);
      ctx.stroke();
    }
  }
}

function drawChannel(ctx, ring, c, lane, from, span, width) {
  const mid = lane.top + lane.height / 2;
  const toY = (uv) => mid - uv * lane.uvToPx;
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, lane.top, width, lane.height);
  ctx.clip();
  ctx.beginPath();
  const first = ring.search(from);
  const end = ring.search(Math.floor(from + span) + 1);
  const columns = Math.max(1, Math.round(width * (window.devicePixelRatio || 1)));
  if (end - first > 2 * columns) {
    traceColumns(ctx, ring, c, { first, end }, from, span, { columns, width }, toY);
  } else {
    traceEntries(ctx, ring, c, { first, end }, from, width / span, toY);
  }
  ctx.strokeStyle = channelColor(c);
  ctx.lineWidth = 1.4;
  ctx.lineJoin = "round";
  ctx.stroke();
  ctx.restore();
}

// Fewer entries than two per pixel: each one is a point (a sample) or a vertical stroke from
// min to max (a pair, at the middle of the samples it covers), joined to the one before.
function traceEntries(ctx, ring, c, range, from, pxPerSample, toY) {
  for (let k = range.first; k < range.end; k += 1) {
    const x = (ring.start(k) + (ring.span(k) - 1) / 2 - from) * pxPerSample;
    const low = ring.low(c, k);
    const high = ring.high(c, k);
    if (ring.joined(k) && k > range.first) ctx.lineTo(x, toY(low));
    else ctx.moveTo(x, toY(low));
    if (high !== low) ctx.lineTo(x, toY(high));
  }
}

// More entries than device pixels: one vertical stroke per device pixel column from the lowest
// to the highest value of the entries that start in it, so the full envelope shows. Columns are
// joined unless samples were lost between them; an empty column between joined entries keeps
// the pen down.
function traceColumns(ctx, ring, c, range, from, span, grid, toY) {
  const perColumn = span / grid.columns;
  const columnWidth = grid.width / grid.columns;
  let k = range.first;
  for (let column = 0; column < grid.columns && k < range.end; column += 1) {
    const columnEnd = from + (column + 1) * perColumn;
    let low = Infinity;
    let high = -Infinity;
    let joined = k > range.first;
    for (; k < range.end && ring.start(k) < columnEnd; k += 1) {
      joined = joined && ring.joined(k);
      low = Math.min(low, ring.low(c, k));
      high = Math.max(high, ring.high(c, k));
    }
    if (low > high) continue;
    const x = column * columnWidth;
    if (joined) ctx.lineTo(x, toY(low));
    else ctx.moveTo(x, toY(low));
    ctx.lineTo(x, toY(high));
  }
}

function drawScaleBar(ctx, laneHeight, scaleUv) {
  const barHeight = laneHeight / 2;
  const x = 12;
  const top = laneHeight / 4;
  const label = `${scaleUv} µV`;
  ctx.font = "600 13px system-ui, sans-serif";
  const boxWidth = ctx.measureText(label).width + 30;
  ctx.fillStyle = "rgba(17,24,32,0.85)";
  ctx.fillRect(x - 8, top - 4, boxWidth, barHeight + 8);
  ctx.strokeStyle = "#e6edf3";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x - 4, top);
  ctx.lineTo(x + 4, top);
  ctx.moveTo(x, top);
  ctx.lineTo(x, top + barHeight);
  ctx.moveTo(x - 4, top + barHeight);
  ctx.lineTo(x + 4, top + barHeight);
  ctx.stroke();
  ctx.fillStyle = "#e6edf3";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(label, x + 10, top + barHeight / 2);
}
