// The brain-waves plot: power spectral density per channel on a log axis over 1–45 Hz, the
// classic bands shaded behind it, and the peak of the channel average marked.

import { SharpCanvas } from "./canvas.js";
import { BAND_SYMBOLS, bandColor, channelColor } from "./colors.js";

export const SHOWN_HZ = [1, 45];
export const PEAK_SEARCH_HZ = [3, 45];
const MARGIN = { left: 46, right: 12, top: 22, bottom: 24 };
const MIN_DECADES = 2;
const MAX_DECADES = 5;
/** Weight of the newest spectrum in the displayed running average (4 spectra/s: about 1 s). */
const SMOOTHING = 0.3;
const UPDATES_BEFORE_SHRINKING = 8;
const FREQ_TICKS = [1, 10, 20, 30, 40];

/**
 * The frequency of the maximum of `mean` among bins within `range` Hz, or null when none is.
 * `mean` is any array-like indexed like `freqs`.
 */
export function peakFrequency(freqs, mean, range = PEAK_SEARCH_HZ) {
  let best = null;
  for (let k = 0; k < freqs.length; k += 1) {
    if (freqs[k] < range[0] || freqs[k] > range[1]) continue;
    if (best === null || mean[k] > mean[best]) best = k;
  }
  return best === null ? null : freqs[best];
}

/** Draws the PSD canvas from the latest fft frame; redraws only when something changed. */
export class SpectrumView {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.spectrum = null;
    this.frame = null;
    this.smoothed = null;
    this.mean = new Float32Array(0);
    this.peakHz = null;
    this.decades = null;
    this.calmUpdates = 0;
    this.changed = true;
    this.drawnSelection = null;
  }

  /** A new session or frequency axis: forget the last spectrum. */
  reset(spectrum) {
    this.spectrum = spectrum;
    this.frame = null;
    this.smoothed = null;
    this.peakHz = null;
    this.decades = null;
    this.mean = new Float32Array(spectrum ? spectrum.freqs.length : 0);
    this.changed = true;
  }

  /**
   * Take a decoded fft frame; returns the peak frequency in Hz of its channel average.
   * The plot shows a short running average, which reads far better than single windows.
   */
  update(frame) {
    const bins = frame.sampleCount;
    const channels = frame.channelCount;
    this.mean.fill(0);
    for (let c = 0; c < channels; c += 1) {
      for (let k = 0; k < bins; k += 1) this.mean[k] += frame.psd[c * bins + k] / channels;
    }
    if (this.smoothed?.length === frame.psd.length) {
      for (let i = 0; i < frame.psd.length; i += 1) {
        this.smoothed[i] += SMOOTHING * (frame.psd[i] - this.smoothed[i]);
      }
    } else {
      this.smoothed = Float32Array.from(frame.psd);
    }
    this.frame = frame;
    this.peakHz = peakFrequency(this.spectrum.freqs, this.mean);
    this.fitRange(frame);
    this.changed = true;
    return this.peakHz;
  }

  /** Keep the power axis on whole decades: grow at once, shrink only when it stays smaller. */
  fitRange(frame) {
    const { freqs } = this.spectrum;
    let low = Infinity;
    let high = 0;
    for (let k = 0; k < freqs.length; k += 1) {
      if (freqs[k] < SHOWN_HZ[0] || freqs[k] > SHOWN_HZ[1]) continue;
      for (let c = 0; c < frame.channelCount; c += 1) {
        const p = this.smoothed[c * frame.sampleCount + k];
        if (p > 0 && p < low) low = p;
        if (p > high) high = p;
      }
    }
    if (!(high > 0)) return;
    const top = Math.ceil(Math.log10(high));
    const floor = Math.floor(Math.log10(low));
    const bottom = Math.min(top - MIN_DECADES, Math.max(top - MAX_DECADES, floor));
    const current = this.decades;
    if (!current || top > current.top || bottom < current.bottom) {
      this.decades = {
        top: Math.max(top, current?.top ?? top),
        bottom: Math.min(bottom, current?.bottom ?? bottom),
      };
      if (this.decades.top - this.decades.bottom > MAX_DECADES) this.decades = { top, bottom };
      this.calmUpdates = 0;
    } else if (top < current.top || bottom > current.bottom) {
      this.calmUpdates += 1;
      if (this.calmUpdates >= UPDATES_BEFORE_SHRINKING) {
        this.decades = { top, bottom };
        this.calmUpdates = 0;
      }
    }
  }

  /** Redraw if the data, the size or the selected channel (index or null) changed. */
  draw(selected) {
    if (!this.changed && !this.canvas.dirty && selected === this.drawnSelection) return;
    this.changed = false;
    this.drawnSelection = selected;
    const ctx = this.canvas.begin();
    const plot = {
      left: MARGIN.left,
      top: MARGIN.top,
      width: Math.max(1, this.canvas.width - MARGIN.left - MARGIN.right),
      height: Math.max(1, this.canvas.height - MARGIN.top - MARGIN.bottom),
    };
    plot.x = (hz) => plot.left + ((hz - SHOWN_HZ[0]) / (SHOWN_HZ[1] - SHOWN_HZ[0])) * plot.width;
    drawBands(ctx, plot, this.spectrum?.bands ?? []);
    drawFrequencyAxis(ctx, plot);
    if (!this.frame || !this.decades) {
      drawPlaceholder(ctx, plot, "Waiting for the first spectrum…");
      return;
    }
    const { top, bottom } = this.decades;
    plot.y = (p) => {
      const share = (Math.log10(Math.max(p, 1e-30)) - bottom) / (top - bottom);
      return plot.top + (1 - share) * plot.height;
    };
    drawPowerAxis(ctx, plot, this.decades);
    drawLines(ctx, plot, this.spectrum.freqs, this.frame, this.smoothed, selected);
    if (this.peakHz !== null) drawPeak(ctx, plot, this.peakHz);
  }
}

function drawBands(ctx, plot, bands) {
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const [name, lowHz, highHz] of bands) {
    const from = plot.x(Math.max(lowHz, SHOWN_HZ[0]));
    const to = plot.x(Math.min(highHz, SHOWN_HZ[1]));
    if (to <= from) continue;
    ctx.globalAlpha = 0.08;
    ctx.fillStyle = bandColor(name);
    ctx.fillRect(from, plot.top, to - from, plot.height);
    ctx.globalAlpha = 1;
    ctx.fillText(BAND_SYMBOLS[name] ?? name[0], (from + to) / 2, plot.top - 11);
  }
}

function drawPlaceholder(ctx, plot, text) {
  ctx.font = "14px system-ui, sans-serif";
  ctx.fillStyle = "#7d8b99";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, plot.left + plot.width / 2, plot.top + plot.height / 2);
}

function drawFrequencyAxis(ctx, plot) {
  const bottom = plot.top + plot.height;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.lineWidth = 1;
  for (const hz of FREQ_TICKS) {
    const x = Math.round(plot.x(hz)) + 0.5;
    ctx.strokeStyle = "rgba(255,255,255,0.07)";
    ctx.beginPath();
    ctx.moveTo(x, plot.top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    ctx.fillStyle = "#7d8b99";
    ctx.textAlign = "center";
    ctx.fillText(String(hz), x, bottom + 5);
  }
  ctx.textAlign = "right";
  ctx.fillText("Hz", plot.left + plot.width, bottom + 5);
  ctx.strokeStyle = "rgba(255,255,255,0.18)";
  ctx.beginPath();
  ctx.moveTo(plot.left, bottom + 0.5);
  ctx.lineTo(plot.left + plot.width, bottom + 0.5);
  ctx.stroke();
}

function drawPowerAxis(ctx, plot, { top, bottom }) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const step = top - bottom > 4 ? 2 : 1;
  for (let decade = bottom; decade <= top; decade += step) {
    const y = Math.round(plot.y(10 ** decade)) + 0.5;
    ctx.strokeStyle = "rgba(255,255,255,0.07)";
    ctx.beginPath();
    ctx.moveTo(plot.left, y);
    ctx.lineTo(plot.left + plot.width, y);
    ctx.stroke();
    ctx.fillStyle = "#7d8b99";
    ctx.fillText(formatDecade(decade), plot.left - 6, y);
  }
  ctx.save();
  ctx.translate(11, plot.top + plot.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("µV²/Hz", 0, 0);
  ctx.restore();
}

function formatDecade(decade) {
  if (decade >= 0 && decade <= 3) return String(10 ** decade);
  if (decade < 0 && decade >= -2) return (10 ** decade).toFixed(-decade);
  return `1e${decade}`;
}

function drawLines(ctx, plot, freqs, frame, psd, selected) {
  const bins = frame.sampleCount;
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.left, plot.top, plot.width, plot.height);
  ctx.clip();
  ctx.lineJoin = "round";
  const order = [...Array(frame.channelCount).keys()].filter((c) => c !== selected);
  if (selected !== null && selected < frame.channelCount) order.push(selected);
  for (const c of order) {
    ctx.beginPath();
    let started = false;
    for (let k = 0; k < bins; k += 1) {
      if (freqs[k] < SHOWN_HZ[0] || freqs[k] > SHOWN_HZ[1]) continue;
      const x = plot.x(freqs[k]);
      const y = plot.y(psd[c * bins + k]);
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    }
    const dimmed = selected !== null && c !== selected;
    ctx.globalAlpha = dimmed ? 0.22 : 0.9;
    ctx.lineWidth = c === selected ? 2.6 : 1.5;
    ctx.strokeStyle = channelColor(c);
    ctx.stroke();
  }
  ctx.restore();
}

function drawPeak(ctx, plot, peakHz) {
  const x = Math.round(plot.x(peakHz)) + 0.5;
  ctx.save();
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = "rgba(230,237,243,0.75)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x, plot.top);
  ctx.lineTo(x, plot.top + plot.height);
  ctx.stroke();
  ctx.restore();
}

/** A frequency for people: one decimal. */
export function formatHz(hz) {
  return hz.toFixed(1);
}
