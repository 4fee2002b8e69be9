// The signal-quality dots by the lane labels and the selected channel's verdict under the
// brain-wave tabs, from the daemon's `quality` topic (quality.js reads it). A verdict is only
// as good as its data: while the page streams nothing (disconnected, source lost, end of
// file) or no fresh verdict comes, every channel says so, grey. State for tests:
// data-quality on #channel-info.

import { setData } from "./dom.js";
import { QualityVerdicts, noData } from "./quality.js";

export class QualityDots {
  /** `labels` shows the dots; `info` is the line for the selected channel. */
  constructor(labels, info) {
    this.labels = labels;
    this.info = info;
    this.verdicts = new QualityVerdicts();
  }

  /** A new session: no verdicts yet. */
  reset() {
    this.verdicts.reset();
  }

  /** A `quality` message for the session `session` of the hello's `channels`. */
  take(message, channels, session) {
    this.verdicts.take(message, channels, session, performance.now());
  }

  /**
   * Show every channel's verdict, and channel `selected`'s (or a hint, for null) on the info
   * line; `state` and `headline` are the page's status at `nowMs`.
   */
  show(names, selected, state, headline, nowMs = performance.now()) {
    const latest = this.verdicts;
    const why =
      state !== "streaming"
        ? headline.toLowerCase()
        : `no quality verdict for ${latest.silentS(nowMs)} s`;
    const verdicts =
      latest.fresh(nowMs) && state === "streaming" ? latest.verdicts : names.map(() => noData(why));
    this.labels.showQuality(verdicts);
    const info =
      selected === null
        ? "tap a label: channel and signal quality"
        : `${names[selected]} · ${verdicts[selected]?.reason ?? "no verdict yet"}`;
    if (this.info.textContent !== info) this.info.textContent = info;
    const level = selected === null ? "" : (verdicts[selected]?.level ?? "unknown");
    setData(this.info, "quality", level);
  }
}
