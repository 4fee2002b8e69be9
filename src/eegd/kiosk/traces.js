// The traces panel: the last 5 s of every channel, one lane each, scrolling smoothly at display
// rate from a ring buffer; lost samples lift the pen instead of drawing a line across the gap.

import { SharpCanvas } from "./canvas.js";
import { channelColor } from "./colors.js";
import { SampleRing } from "./ring.js";

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

  /** Start a new session: fresh buffers sized for the window at this rate. */
  reset(channelCount, rate) {
    this.rate = rate;
    this.ring = new SampleRing(channelCount, Math.ceil(rate * (WINDOW_S + SLACK_S)));
    this.frozen = this.frozen ? { ring: this.ring.snapshot(), playhead: null } : null;
    this.playhead = null;
  }

  /** Store a full-rate EEG frame. */
  push(frame) {
    if (!this.ring) return;
    this.ring.write(frame.samples, frame.sampleCount, frame.firstSample);
    this.batch = frame.sampleCount;
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
  const perPixel = span / width;
  if (perPixel > 2) {
    traceColumns(ctx, ring, c, from, perPixel, width, toY);
  } else {
    traceSamples(ctx, ring, c, from, span, width / span, toY);
  }
  ctx.strokeStyle = channelColor(c);
  ctx.lineWidth = 1.4;
  ctx.lineJoin = "round";
  ctx.stroke();
  ctx.restore();
}

function traceSamples(ctx, ring, c, from, span, pxPerSample, toY) {
  let penDown = false;
  for (let index = Math.ceil(from); index <= from + span; index += 1) {
    if (!ring.has(index)) {
      penDown = false;
      continue;
    }
    const x = (index - from) * pxPerSample;
    const y = toY(ring.value(c, index));
    if (penDown) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    penDown = true;
  }
}

function traceColumns(ctx, ring, c, from, perPixel, width, toY) {
  let previousHeld = false;
  for (let px = 0; px < width; px += 1) {
    const start = Math.ceil(from + px * perPixel);
    const end = Math.ceil(from + (px + 1) * perPixel);
    let low = Infinity;
    let high = -Infinity;
    for (let index = start; index < end; index += 1) {
      if (!ring.has(index)) continue;
      const v = ring.value(c, index);
      if (v < low) low = v;
      if (v > high) high = v;
    }
    if (low <= high) {
      if (previousHeld && ring.has(start)) ctx.lineTo(px, toY(low));
      else ctx.moveTo(px, toY(low));
      ctx.lineTo(px, toY(high));
    }
    previousHeld = ring.has(end - 1);
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
