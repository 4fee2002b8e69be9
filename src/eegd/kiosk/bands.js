// The band-power bars: each band's share of the power over the shown bands (mean over channels,
// or one selected channel), or its absolute power in µV² (a tap on the bars switches), smoothed
// over spectra like the spectrum plot.

import { bandColor } from "./colors.js";
import { SMOOTHING } from "./spectrum.js";

/** The share (in %) a full-height bar stands for, unless one band has more. */
const FULL_BAR_SHARE = 50;

/** One bar per band of the session's spectrum, built once per session and updated in place. */
export class BandBars {
  constructor(container) {
    this.container = container;
    this.bars = [];
    this.values = new Float64Array(0);
    this.smoothed = null;
    this.unit = "share";
  }

  /** Show each band's share ("share", %) or its power ("power", µV²). */
  setUnit(unit) {
    this.unit = unit;
    this.container.dataset.unit = unit;
    if (this.last) this.update(...this.last, false);
  }

  /** Build the bars for `bands` ([name, lowHz, highHz] per band). */
  reset(bands) {
    this.container.replaceChildren();
    this.values = new Float64Array(bands.length);
    this.smoothed = null;
    this.last = null;
    this.bars = bands.map(([name, lowHz, highHz]) => {
      const column = document.createElement("div");
      column.className = "band";
      column.dataset.band = name;
      column.style.setProperty("--band-color", bandColor(name));
      column.innerHTML =
        '<span class="band-share">–</span>' +
        '<span class="band-track"><span class="band-fill"></span></span>' +
        `<span class="band-name">${escapeHtml(name)}</span>` +
        `<span class="band-range">${lowHz}–${highHz} Hz</span>` +
        '<span class="band-power"></span>';
      this.container.append(column);
      return {
        column,
        share: column.querySelector(".band-share"),
        fill: column.querySelector(".band-fill"),
        power: column.querySelector(".band-power"),
      };
    });
  }

  /** Show the band powers of an fft frame; `selected` is a channel index or null for the mean. */
  update(frame, selected, fresh = true) {
    const bands = frame.bandCount;
    if (bands !== this.bars.length) return;
    this.last = [frame, selected];
    const channels = selected === null ? [...Array(frame.channelCount).keys()] : [selected];
    this.values.fill(0);
    for (const c of channels) {
      for (let b = 0; b < bands; b += 1) {
        this.values[b] += frame.bandPower[c * bands + b] / channels.length;
      }
    }
    if (!this.smoothed || this.smoothed.selected !== selected) {
      this.smoothed = { selected, values: Float64Array.from(this.values) };
    } else if (fresh) {
      const values = this.smoothed.values;
      for (let b = 0; b < bands; b += 1) values[b] += SMOOTHING * (this.values[b] - values[b]);
    }
    const values = this.smoothed.values;
    const total = values.reduce((sum, value) => sum + value, 0);
    const shares = Array.from(values, (value) => (total > 0 ? (100 * value) / total : 0));
    const fullBar = Math.max(FULL_BAR_SHARE, ...shares);
    const fullPower = Math.max(...values, 1e-12);
    this.bars.forEach((bar, b) => {
      const share = shares[b];
      const height = this.unit === "power" ? (100 * values[b]) / fullPower : (100 * share) / fullBar;
      bar.fill.style.height = `${height.toFixed(1)}%`;
      bar.share.textContent =
        this.unit === "power" ? formatPower(values[b]) : `${Math.round(share)}%`;
      bar.power.textContent = this.unit === "power" ? "µV²" : `${formatPower(values[b])} µV²`;
      bar.column.dataset.share = share.toFixed(1);
      bar.column.dataset.power = values[b].toPrecision(4);
    });
  }
}

function formatPower(value) {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toPrecision(2);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
