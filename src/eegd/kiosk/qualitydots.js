// The signal-quality dots by the lane labels and the selected channel's verdict under the
// brain-wave tabs, from the raw stream (quality.js judges it). A verdict is only as good as
// its data: while the page streams no raw data (disconnected, source lost, end of file) every
// channel says so, grey. State for tests: data-quality on #channel-info.

import { setData } from "./dom.js";
import { QualityMeter, noData } from "./quality.js";

/** Quality verdicts older than this (no raw data since) are no verdicts: the dots go grey. */
const QUALITY_STALE_MS = 2500;

export class QualityDots {
  /** `labels` shows the dots; `info` is the line for the selected channel. */
  constructor(labels, info) {
    this.labels = labels;
    this.info = info;
    this.meter = null;
    this.lastRawMs = null;
  }

  /** A new session: no verdicts yet. */
  reset() {
    this.meter = null;
  }

  /**
   * Judge a raw frame; `ranges` is each channel's declared physical range in µV (GET
   * /api/status → source), or null.
   */
  measure(frame, ranges) {
    const meter = this.meter;
    if (!meter || meter.entryRate !== frame.sampleRate || meter.declared !== (ranges !== null)) {
      this.meter = new QualityMeter(frame.channelCount, frame.sampleRate, ranges);
    }
    this.meter.push(frame.samples, frame.sampleCount, frame.decimated);
    this.lastRawMs = performance.now();
  }

  /** The electrodes (names of `channels`) the source reports off (a lead_off event). */
  leadOff(message, channels) {
    if (message.kind !== "lead_off" || !this.meter) return;
    const off = new Set(message.detail?.electrodes ?? []);
    this.meter.setLeadOff(channels.flatMap((name, c) => (off.has(name) ? [c] : [])));
  }

  /**
   * Show every channel's verdict, and channel `selected`'s (or a hint, for null) on the info
   * line; `state` and `headline` are the page's status at `nowMs`.
   */
  show(names, selected, state, headline, nowMs = performance.now()) {
    const fresh = this.lastRawMs !== null && nowMs - this.lastRawMs < QUALITY_STALE_MS;
    const silentS = this.lastRawMs === null ? 0 : Math.floor((nowMs - this.lastRawMs) / 1000);
    const why = state !== "streaming" ? headline.toLowerCase() : `no raw data for ${silentS} s`;
    const verdicts =
      fresh && state === "streaming"
        ? this.meter?.verdicts ?? []
        : names.map(() => noData(why));
    this.labels.showQuality(verdicts);
    const info =
      selected === null
        ? "tap a label: channel and signal quality"
        : `${names[selected]} · ${verdicts[selected]?.reason ?? "no raw data yet"}`;
    if (this.info.textContent !== info) this.info.textContent = info;
    const level = selected === null ? "" : (verdicts[selected]?.level ?? "unknown");
    setData(this.info, "quality", level);
  }
}
