// The band-power bars: each band's share of the power over the shown bands (mean over channels,
// or one selected channel), with its absolute power in µV² underneath for the curious.

import { bandColor } from "./colors.js";

/** The share (in %) a full-height bar stands for, unless one band has more. */
const FULL_BAR_SHARE = 50;

/** One bar per band of the session's spectrum, built once per session and updated in place. */
export class BandBars {
  constructor(container) {
    this.container = container;
    this.bars = [];
    this.values = new Float64Array(0);
  }

  /** Build the bars for `bands` ([name, lowHz, highHz] per band). */
  reset(bands) {
    this.container.replaceChildren();
    this.values = new Float64Array(bands.length);
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
  update(frame, selected) {
    const bands = frame.bandCount;
    if (bands !== this.bars.length) return;
    const channels = selected === null ? [...Array(frame.channelCount).keys()] : [selected];
    this.values.fill(0);
    for (const c of channels) {
      for (let b = 0; b < bands; b += 1) {
        this.values[b] += frame.bandPower[c * bands + b] / channels.length;
      }
    }
    const total = this.values.reduce((sum, value) => sum + value, 0);
    const shares = Array.from(this.values, (value) => (total > 0 ? (100 * value) / total : 0));
    const fullBar = Math.max(FULL_BAR_SHARE, ...shares);
    this.bars.forEach((bar, b) => {
      const share = shares[b];
      bar.fill.style.height = `${((100 * share) / fullBar).toFixed(1)}%`;
      bar.share.textContent = `${Math.round(share)}%`;
      bar.power.textContent = `${formatPower(this.values[b])} µV²`;
      bar.column.dataset.share = share.toFixed(1);
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
