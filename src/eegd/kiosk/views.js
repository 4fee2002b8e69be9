// The other views of the brain-waves panel, each drawn only when a new spectrum arrives and
// only while shown: band power over the last 60 s, a spectrogram of the selected channel
// (one new column per spectrum, the rest scrolled); headmap.js has the head map.

import { SharpCanvas } from "./canvas.js";
import { bandColor, heat } from "./colors.js";
import { SMOOTHING, niceTicks } from "./spectrum.js";

export const HISTORY_S = 60;

/** Mean band powers of `frame` over `channels` (indices), one per band. */
export function bandPowers(frame, channels) {
  const bands = frame.bandCount;
  const values = new Float64Array(bands);
  for (const c of channels) {
    for (let b = 0; b < bands; b += 1) values[b] += frame.bandPower[c * bands + b] / channels.length;
  }
  return values;
}

/** Start drawing a view: its plot box and a context set for the left axis's labels. */
function begin(canvas, theme, margins) {
  const ctx = canvas.begin();
  const { width, height } = canvas;
  const plot = {
    left: margins.left,
    top: margins.top,
    width: width - margins.left - margins.right,
    height: height - margins.top - margins.bottom,
  };
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = theme.axisText;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  return { ctx, plot };
}

function channelsOf(frame, selected) {
  return selected === null ? [...Array(frame.channelCount).keys()] : [selected];
}

/** Each band's share of the power, smoothed like the bars, as lines over the last 60 s. */
export class BandHistory {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.reset([]);
  }

  reset(bands) {
    this.bands = bands;
    this.points = [];
  }

  add(frame, selected, nowMs) {
    const values = bandPowers(frame, channelsOf(frame, selected));
    const total = values.reduce((a, b) => a + b, 0) || 1;
    const last = this.points[this.points.length - 1];
    const shares = Array.from(values, (v, b) =>
      last && last.selected === selected ? last.shares[b] + SMOOTHING * (v / total - last.shares[b]) : v / total,
    );
    this.points.push({ t: nowMs, shares, selected });
    while (this.points.length && this.points[0].t < nowMs - HISTORY_S * 1000) this.points.shift();
  }

  draw(theme) {
    const { ctx, plot } = begin(this.canvas, theme, { left: 34, top: 8, right: 10, bottom: 22 });
    for (const share of [0, 0.5, 1]) {
      const y = plot.top + (1 - share) * plot.height;
      ctx.fillText(`${share * 100}%`, plot.left - 4, y);
      ctx.strokeStyle = theme.gridLine;
      ctx.beginPath();
      ctx.moveTo(plot.left, y);
      ctx.lineTo(plot.left + plot.width, y);
      ctx.stroke();
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const s of [60, 30, 0]) {
      const x = plot.left + (1 - s / HISTORY_S) * plot.width;
      ctx.fillText(s ? `−${s} s` : "now", x, plot.top + plot.height + 4);
    }
    const last = this.points[this.points.length - 1];
    if (!last) return;
    this.bands.forEach(([name], b) => {
      ctx.beginPath();
      this.points.forEach((point, i) => {
        const x = plot.left + (1 - (last.t - point.t) / (HISTORY_S * 1000)) * plot.width;
        const y = plot.top + (1 - point.shares[b]) * plot.height;
        if (i) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
      });
      ctx.strokeStyle = bandColor(name);
      ctx.lineWidth = 2;
      ctx.stroke();
    });
  }
}

/**
 * The colour scale right of a plot: `heat` from `lowDb` (bottom) to `highDb` (top), labelled
 * in dB re 1 µV²/Hz.
 */
function drawColorBar(ctx, plot, theme, lowDb, highDb) {
  const x = plot.left + plot.width + 8;
  const width = 10;
  const steps = 32;
  for (let i = 0; i < steps; i += 1) {
    ctx.fillStyle = heat((i + 0.5) / steps);
    const y = plot.top + plot.height * (1 - (i + 1) / steps);
    ctx.fillRect(x, y, width, plot.height / steps + 0.5);
  }
  ctx.fillStyle = theme.axisText;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(`${Math.round(highDb)}`, x + width + 3, plot.top + 6);
  ctx.fillText(`${Math.round(lowDb)}`, x + width + 3, plot.top + plot.height - 6);
  ctx.save();
  ctx.translate(x + width + 12, plot.top + plot.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("dB re 1 µV²/Hz", 0, 0);
  ctx.restore();
}

/** Power over frequency (up) and time (right), of the selected channel or the mean. */
export class Spectrogram {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.columns = [];
  }

  reset() {
    this.columns = [];
  }

  add(frame, selected, freqs, maxHz) {
    const bins = frame.sampleCount;
    const channels = channelsOf(frame, selected);
    const column = [];
    for (let k = 0; k < bins && freqs[k] <= maxHz; k += 1) {
      let sum = 0;
      for (const c of channels) sum += frame.psd[c * bins + k];
      column.push(Math.log10(Math.max(sum / channels.length, 1e-12)));
    }
    this.columns.push(column);
    if (this.columns.length > 4 * HISTORY_S) this.columns.shift();
    this.maxHz = maxHz;
  }

  draw(theme) {
    const margins = { left: 34, top: 8, right: 52, bottom: 22 };
    const { ctx, plot } = begin(this.canvas, theme, margins);
    const element = this.canvas.element;
    const ticks = niceTicks(this.maxHz, 4);
    element.dataset.freqTicks = ticks.map(([, label]) => label).join(",");
    for (const [hz, label] of ticks) {
      ctx.fillText(label, plot.left - 4, plot.top + (1 - hz / this.maxHz) * plot.height);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillText(`Hz · last ${HISTORY_S} s`, plot.left + plot.width / 2, plot.top + plot.height + 4);
    if (!this.columns.length) {
      delete element.dataset.colorbar;
      return;
    }
    let low = Infinity;
    let high = -Infinity;
    for (const column of this.columns) {
      for (const value of column) {
        low = Math.min(low, value);
        high = Math.max(high, value);
      }
    }
    const span = high - low || 1;
    drawColorBar(ctx, plot, theme, 10 * low, 10 * (low + span));
    element.dataset.colorbar = `${Math.round(10 * low)}..${Math.round(10 * (low + span))} dB`;
    const columnWidth = plot.width / (4 * HISTORY_S);
    const offset = 4 * HISTORY_S - this.columns.length;
    this.columns.forEach((column, i) => {
      const x = plot.left + (offset + i) * columnWidth;
      const rowHeight = plot.height / column.length;
      column.forEach((value, k) => {
        ctx.fillStyle = heat((value - low) / span);
        ctx.fillRect(x, plot.top + plot.height - (k + 1) * rowHeight, columnWidth + 0.5, rowHeight + 0.5);
      });
    });
  }
}
