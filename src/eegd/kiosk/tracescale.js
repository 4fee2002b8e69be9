// The traces' vertical scale as the user controls it: one automatic or fixed scale for every
// lane, or an automatic scale per channel; `scales` gives each channel's ± µV for drawing
// (the same array until something changes: it is called every frame and allocates nothing
// then), `show` mirrors it into the controls and the scale bar beside the lanes (never over
// them).

import { AutoScale, FIXED_STEPS_UV, channelAmplitudes, robustAmplitude } from "./scale.js";

/** The automatic scales are looked at in a frame drawn this long after the last look… */
const AUTO_SCALE_EVERY_MS = 500;
/** …and a frame of its own is asked for only when none came for this long. */
const AUTO_SCALE_DUE_MS = 1000;

export class TraceScale {
  constructor(ui) {
    this.ui = ui;
    this.auto = true;
    this.fixedUv = 50;
    this.mode = "global";
    this.global = new AutoScale();
    this.perChannel = [];
    this.current = [];
    this.checkedMs = 0;
    this.stale = true;
    this.shown = "";
  }

  /** A new session of `channels` channels: fresh automatic scales. */
  reset(channels) {
    this.perChannel = Array.from({ length: channels }, () => new AutoScale());
    this.stale = true;
  }

  /** "global" (one scale for every lane) or "channel" (automatic per channel). */
  setMode(mode) {
    this.mode = mode;
    this.stale = true;
  }

  /** One fixed step up (+1) or down (-1); the scale becomes global and fixed. */
  step(direction) {
    const current = this.auto ? this.global.step : this.fixedUv;
    const steps = FIXED_STEPS_UV;
    this.fixedUv =
      direction > 0
        ? (steps.find((step) => step > current) ?? steps[steps.length - 1])
        : (steps.findLast((step) => step < current) ?? steps[0]);
    this.auto = false;
    this.mode = "global";
    this.stale = true;
  }

  toggleAuto() {
    this.auto = !this.auto;
    if (!this.auto) this.fixedUv = nearestFixed(this.global.step);
    this.stale = true;
  }

  /** Each channel's ± µV at `nowMs`, the automatic ones refreshed from what is on screen. */
  scales(nowMs, traces, lanes) {
    if (nowMs - this.checkedMs >= AUTO_SCALE_EVERY_MS) {
      this.checkedMs = nowMs;
      const { ring, playhead } = traces.visible();
      if (ring && playhead !== null) {
        const from = playhead - traces.windowS * traces.rate;
        const amplitudes = channelAmplitudes(ring, from, playhead);
        this.global.update(robustAmplitude(amplitudes, lanes));
        this.perChannel.forEach((scale, c) => scale.update(amplitudes[c]));
      }
      this.stale = true;
    }
    if (!this.stale) return this.current;
    this.stale = false;
    const scales = this.perChannel.map((scale) => {
      if (this.mode === "channel") return scale.step;
      return this.auto ? this.global.step : this.fixedUv;
    });
    if (scales.join() !== this.current.join()) this.current = scales;
    return this.current;
  }

  /** When the automatic scales are looked at next at the latest (ms). */
  dueMs() {
    return this.checkedMs + AUTO_SCALE_DUE_MS;
  }

  /** Mirror the scale of channel `shownChannel` into the controls; lanes are `laneHeight` px. */
  show(shownChannel, laneHeight) {
    const perChannel = this.mode === "channel";
    const shownUv = this.current[shownChannel] ?? this.global.step;
    const key = `${this.auto}:${perChannel}:${shownUv}:${laneHeight}`;
    if (key === this.shown) return;
    this.shown = key;
    const ui = this.ui;
    ui.scaleValue.textContent = perChannel ? "each" : `±${shownUv} µV`;
    ui.scaleLabel.textContent = perChannel ? "per channel" : this.auto ? "auto" : "fixed";
    ui.scaleMode.setAttribute("aria-pressed", String(this.auto && !perChannel));
    ui.scaleMode.title = this.auto ? "Automatic scale" : "Tap for automatic scale";
    ui.scaleBarLabel.textContent = `${shownUv} µV`;
    ui.scaleBar.style.height = `${Math.max(4, laneHeight / 2)}px`;
    document.body.dataset.scaleUv = String(shownUv);
    document.body.dataset.scaleMode = perChannel ? "channel" : this.auto ? "auto" : "fixed";
  }
}

function nearestFixed(uv) {
  return FIXED_STEPS_UV.reduce((best, step) =>
    Math.abs(Math.log(step / uv)) < Math.abs(Math.log(best / uv)) ? step : best,
  );
}
