// The status line in the top bar and the overlay over the traces: what the page is doing and,
// whenever there is no data, why (status.js has the model), with the data-health line under
// the traces (health.js) drawn in the same tick so the two never show different countdowns.
// State for tests on <body>: data-state, data-retry-in.

import { setData } from "./dom.js";

export class StatusLine {
  /** `status` is the StatusModel, `health` the HealthLine. */
  constructor(byId, status, health) {
    this.status = status;
    this.health = health;
    this.ui = {
      headline: byId("status-headline"),
      detail: byId("status-detail"),
      overlayHeadline: byId("overlay-headline"),
      overlayDetail: byId("overlay-detail"),
      replay: byId("replay"),
    };
    this.state = "";
    this.headline = "";
    this.shown = "";
  }

  /** Describe the page as of now for session `session` (or none); returns `{state, headline}`. */
  update(session) {
    const now = performance.now();
    const { status, health, ui } = this;
    if (health.finished(session)) status.systemEvent({ kind: "source_ended" });
    const acquisition = health.acquisition();
    const { state, retryIn, headline, detail } = status.describe(now, acquisition);
    health.render(now);
    this.state = state;
    this.headline = headline;
    const body = document.body;
    setData(body, "state", state);
    setData(body, "retryIn", retryIn === null ? null : retryIn.toFixed(1));
    const key = `${headline}\n${detail}`;
    if (key !== this.shown) {
      this.shown = key;
      ui.headline.textContent = headline;
      ui.detail.textContent = detail;
      ui.overlayHeadline.textContent = headline;
      ui.overlayDetail.textContent = detail;
    }
    if (ui.replay.hidden !== (state !== "ended")) ui.replay.hidden = state !== "ended";
    return { state, headline, now };
  }
}
