// The brain-waves plot: power spectral density per channel from 1 Hz up to a chosen limit
// (45 Hz or the spectrum's max_freq_hz, so mains hum and the notch show), on a log or linear
// power axis, the classic bands shaded behind it, and the alpha peak marked only when there
// is one (peak.js). It is redrawn only when a new spectrum or a setting arrives, and then only
// its lines: the bands, axes and labels are kept on an offscreen canvas until the size, the
// frequency range, the power axis or the theme changes.

import { SharpCanvas } from "./canvas.js";
import { BAND_SYMBOLS, THEMES, bandColor, channelColor } from "./colors.js";
import {
  FAST_PEAK_SMOOTHING,
  PEAK_SMOOTHING,
  STAY_PROMINENCE_DECADES,
  alphaPeak,
} from "./peak.js";

/** The upper limits offered for the frequency axis; "max" is the spectrum's own. */
export const DEFAULT_MAX_HZ = 45;
const MIN_HZ = 1;
const MARGIN = { left: 46, right: 12, top: 22, bottom: 24 };
const MIN_DECADES = 2;
const MAX_DECADES = 5;
/** Weight of the newest spectrum in the displayed running average (4 spectra/s: about 1 s). */
export const SMOOTHING = 0.3;
const UPDATES_BEFORE_SHRINKING = 8;

/** Draws the PSD canvas from the latest fft frame; redraws only when something changed. */
export class SpectrumView {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.spectrum = null;
    this.frame = null;
    this.smoothed = null;
    this.slow = null;
    this.mean = new Float32Array(0);
    this.peak = null;
    this.decades = null;
    this.calmUpdates = 0;
    this.changed = true;
    this.drawnSelection = null;
    this.maxHz = DEFAULT_MAX_HZ;
    this.linear = false;
    this.theme = THEMES.dark;
    this.backdrop = document.createElement("canvas");
    this.backdropKey = "";
  }

  /** A new session or frequency axis: forget the last spectrum. */
  reset(spectrum) {
    this.spectrum = spectrum;
    this.frame = null;
    this.smoothed = null;
    this.peak = null;
    this.decades = null;
    this.mean = new Float32Array(spectrum ? spectrum.freqs.length : 0);
    this.backdropKey = "";
    this.changed = true;
  }

  /** The highest frequency the spectrum carries (its max_freq_hz), or null before one. */
  topHz() {
    const freqs = this.spectrum?.freqs;
    return freqs?.length ? freqs[freqs.length - 1] : null;
  }

  /** Show up to `maxHz` ("max": all the spectrum has), on a linear or log power axis. */
  configure({ maxHz, linear, theme }) {
    if (maxHz !== undefined) this.maxHz = maxHz;
    if (linear !== undefined) this.linear = linear;
    if (theme !== undefined) this.theme = theme;
    this.decades = null;
    if (this.frame) this.fitRange(this.frame);
    this.changed = true;
  }

  shownHz() {
    const top = this.topHz() ?? DEFAULT_MAX_HZ;
    return [MIN_HZ, this.maxHz === "max" ? top : Math.min(this.maxHz, top)];
  }

  /**
   * Take a decoded fft frame and the selected channel (or null for the mean); returns the
   * alpha peak `{hz, prominence}` of the smoothed spectrum, or null when there is none.
   */
  update(frame, selected) {
    if (this.smoothed?.length === frame.psd.length) {
      for (let i = 0; i < frame.psd.length; i += 1) {
        this.smoothed[i] += SMOOTHING * (frame.psd[i] - this.smoothed[i]);
        this.slow[i] += PEAK_SMOOTHING * (frame.psd[i] - this.slow[i]);
        this.fast[i] += FAST_PEAK_SMOOTHING * (frame.psd[i] - this.fast[i]);
      }
    } else {
      this.smoothed = Float32Array.from(frame.psd);
      this.slow = Float32Array.from(frame.psd);
      this.fast = Float32Array.from(frame.psd);
    }
    this.frame = frame;
    this.peak = this.findPeak(selected);
    this.fitRange(frame);
    this.changed = true;
    return this.peak;
  }

  /**
   * The alpha peak of the selected channel's (or the mean's) slowly averaged spectrum, while
   * its fast average still shows one (peak.js: FAST_PEAK_SMOOTHING).
   */
  findPeak(selected) {
    const frame = this.frame;
    if (!frame) return null;
    const freqs = this.spectrum.freqs;
    const stays = alphaPeak(freqs, this.average(this.fast, selected), STAY_PROMINENCE_DECADES);
    this.peak = stays && alphaPeak(freqs, this.average(this.slow, selected));
    return this.peak;
  }

  /** `spectra` (channels × bins) averaged over the selected channel or all, in `this.mean`. */
  average(spectra, selected) {
    const frame = this.frame;
    const bins = frame.sampleCount;
    const channels = selected === null ? [...Array(frame.channelCount).keys()] : [selected];
    this.mean.fill(0);
    for (const c of channels) {
      for (let k = 0; k < bins; k += 1) this.mean[k] += spectra[c * bins + k] / channels.length;
    }
    return this.mean;
  }

  /** Keep the power axis steady: grow at once, shrink only when it stays smaller. */
  fitRange(frame) {
    const { freqs } = this.spectrum;
    const [lowHz, highHz] = this.shownHz();
    let low = Infinity;
    let high = 0;
    for (let k = 0; k < freqs.length; k += 1) {
      if (freqs[k] < lowHz || freqs[k] > highHz) continue;
      for (let c = 0; c < frame.channelCount; c += 1) {
        const p = this.smoothed[c * frame.sampleCount + k];
        if (p > 0 && p < low) low = p;
        if (p > high) high = p;
      }
    }
    if (!(high > 0)) return;
    if (this.linear) {
      const top = Math.log10(high * 1.1);
      const current = this.decades;
      if (!current || top > current.top || top < current.top - 0.5) this.decades = { top, bottom: null };
      return;
    }
    const top = Math.ceil(Math.log10(high));
    const floor = Math.floor(Math.log10(low));
    const bottom = Math.min(top - MIN_DECADES, Math.max(top - MAX_DECADES, floor));
    const current = this.decades;
    if (!current || current.bottom === null || top > current.top || bottom < current.bottom) {
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
    const [lowHz, highHz] = this.shownHz();
    const plot = {
      left: MARGIN.left,
      top: MARGIN.top,
      width: Math.max(1, this.canvas.width - MARGIN.left - MARGIN.right),
      height: Math.max(1, this.canvas.height - MARGIN.top - MARGIN.bottom),
      lowHz,
      highHz,
      theme: this.theme,
    };
    plot.x = (hz) => plot.left + ((hz - lowHz) / (highHz - lowHz)) * plot.width;
    const decades = this.frame ? this.decades : null;
    const ticks = decades && powerAxis(plot, decades);
    const { width, height } = this.canvas.element;
    const key = [width, height, lowHz, highHz, decades?.top, decades?.bottom, this.theme.name].join();
    if (key !== this.backdropKey) {
      this.backdropKey = key;
      this.paintBackdrop(plot, ticks);
    }
    ctx.drawImage(this.backdrop, 0, 0, this.canvas.width, this.canvas.height);
    if (!decades) return;
    drawLines(ctx, plot, this.spectrum.freqs, this.frame, this.smoothed, selected);
    if (this.peak !== null) drawPeak(ctx, plot, this.peak.hz);
  }

  /** The bands, the axes and their labels (`ticks`: the power axis's, or null before data). */
  paintBackdrop(plot, ticks) {
    const element = this.canvas.element;
    this.backdrop.width = element.width;
    this.backdrop.height = element.height;
    const ctx = this.backdrop.getContext("2d");
    const scaleX = element.width / Math.max(1, this.canvas.width);
    const scaleY = element.height / Math.max(1, this.canvas.height);
    ctx.setTransform(scaleX, 0, 0, scaleY, 0, 0);
    drawBands(ctx, plot, this.spectrum?.bands ?? []);
    drawFrequencyAxis(ctx, plot);
    if (!ticks) {
      drawPlaceholder(ctx, plot, "Waiting for the first spectrum…");
      return;
    }
    drawPowerTicks(ctx, plot, ticks);
    element.dataset.powerTicks = ticks.map(([, label]) => label).join(",");
  }
}

/** Set `plot.y` for the power axis `decades` (log, or linear when bottom is null); its ticks. */
function powerAxis(plot, { top, bottom }) {
  if (bottom === null) {
    const step = niceStep(10 ** top);
    const full = Math.ceil(10 ** top / step) * step;
    plot.y = (p) => plot.top + (1 - Math.max(0, p) / full) * plot.height;
    return niceTicks(full);
  }
  plot.y = (p) => {
    const share = (Math.log10(Math.max(p, 1e-30)) - bottom) / (top - bottom);
    return plot.top + (1 - share) * plot.height;
  };
  const step = top - bottom > 4 ? 2 : 1;
  const ticks = [];
  for (let decade = bottom; decade <= top; decade += step) {
    ticks.push([10 ** decade, formatDecade(decade)]);
  }
  return ticks;
}

function drawBands(ctx, plot, bands) {
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const [name, lowHz, highHz] of bands) {
    const from = plot.x(Math.max(lowHz, plot.lowHz));
    const to = plot.x(Math.min(highHz, plot.highHz));
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
  ctx.fillStyle = plot.theme.axisText;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, plot.left + plot.width / 2, plot.top + plot.height / 2);
}

function drawFrequencyAxis(ctx, plot) {
  const bottom = plot.top + plot.height;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  ctx.lineWidth = 1;
  const step = plot.highHz > 60 ? 20 : 10;
  const ticks = [1];
  for (let hz = step; hz < plot.highHz - step / 4; hz += step) ticks.push(hz); // room for "Hz"
  for (const hz of ticks) {
    const x = Math.round(plot.x(hz)) + 0.5;
    ctx.strokeStyle = plot.theme.gridLine;
    ctx.beginPath();
    ctx.moveTo(x, plot.top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    ctx.fillStyle = plot.theme.axisText;
    ctx.textAlign = "center";
    ctx.fillText(String(hz), x, bottom + 5);
  }
  ctx.textAlign = "right";
  ctx.fillText("Hz", plot.left + plot.width, bottom + 5);
  ctx.strokeStyle = plot.theme.axisLine;
  ctx.beginPath();
  ctx.moveTo(plot.left, bottom + 0.5);
  ctx.lineTo(plot.left + plot.width, bottom + 0.5);
  ctx.stroke();
}

/** The round step (1, 2 or 5 × 10ⁿ) that cuts `span` into at most `most` parts. */
export function niceStep(span, most = 5) {
  const rough = span / most;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((value) => value >= rough);
  return step ?? 10 * power;
}

/** 0, step, 2·step, … up to `top`, written without float noise. */
export function niceTicks(top, most = 5) {
  const step = niceStep(top, most);
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks = [];
  for (let i = 0; i * step <= top * (1 + 1e-9); i += 1) {
    ticks.push([i * step, (i * step).toFixed(digits)]);
  }
  return ticks;
}

/** Grid lines and labels at the given [power, label] ticks, and the axis's unit. */
function drawPowerTicks(ctx, plot, ticks) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const [value, label] of ticks) {
    const y = Math.round(plot.y(value)) + 0.5;
    ctx.strokeStyle = plot.theme.gridLine;
    ctx.beginPath();
    ctx.moveTo(plot.left, y);
    ctx.lineTo(plot.left + plot.width, y);
    ctx.stroke();
    ctx.fillStyle = plot.theme.axisText;
    ctx.fillText(label, plot.left - 6, y);
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
      if (freqs[k] < plot.lowHz || freqs[k] > plot.highHz) continue;
      const x = plot.x(freqs[k]);
      const y = plot.y(psd[c * bins + k]);
      if (started) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      started = true;
    }
    const dimmed = selected !== null && c !== selected;
    ctx.globalAlpha = dimmed ? 0.22 : 0.9;
    ctx.lineWidth = c === selected ? 2.6 : 1.5;
    ctx.strokeStyle = channelColor(c, plot.theme.name);
    ctx.stroke();
  }
  ctx.restore();
}

function drawPeak(ctx, plot, peakHz) {
  const x = Math.round(plot.x(peakHz)) + 0.5;
  ctx.save();
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = plot.theme.text;
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
