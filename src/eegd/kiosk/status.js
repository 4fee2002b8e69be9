// What the kiosk is doing and, whenever there is no data, why: one of the states tests read
// from data-state, with a headline and a detail line for people.

/** Seconds without EEG frames after which a stream counts as stalled. */
export const STALL_S = 2;

/** Everything the status depends on; the app feeds events in and asks `describe(now)`. */
export class StatusModel {
  constructor(host) {
    this.host = host;
    this.link = "connecting";
    this.attempt = 1;
    this.retryAtMs = 0;
    this.closeReason = "";
    this.hello = null;
    this.lastDataMs = null;
    this.sourceLost = null;
  }

  connecting(attempt) {
    this.link = "connecting";
    this.attempt = attempt;
  }

  opened() {
    this.link = "open";
    this.hello = null;
    this.lastDataMs = null;
    this.sourceLost = null;
  }

  closed(retryAtMs, reason) {
    this.link = "closed";
    this.retryAtMs = retryAtMs;
    this.closeReason = reason;
  }

  helloReceived(hello) {
    this.hello = hello;
  }

  dataReceived(nowMs) {
    this.lastDataMs = nowMs;
    this.sourceLost = null;
  }

  /** A `system` message: source_lost / source_connected change what the page says. */
  systemEvent(message, nowMs) {
    if (message.kind === "source_lost") {
      const retryS = Number(message.detail?.retry_in_s);
      const retryAtMs = Number.isFinite(retryS) ? nowMs + retryS * 1000 : null;
      this.sourceLost = { retryAtMs, source: message.detail?.source ?? null };
      this.lastDataMs = null;
    } else if (message.kind === "source_connected") {
      this.sourceLost = null;
    }
  }

  /** `{state, retryIn, headline, detail}` at time `nowMs`; retryIn is seconds or null. */
  describe(nowMs) {
    if (this.link === "connecting") {
      const detail = this.attempt > 1 ? `attempt ${this.attempt}` : this.host;
      return status("connecting", "Connecting to eegd…", detail);
    }
    if (this.link === "closed") {
      const retryIn = Math.max(0, (this.retryAtMs - nowMs) / 1000);
      const headline = `Reconnecting in ${Math.max(1, Math.ceil(retryIn))} s`;
      return { ...status("reconnecting", headline, this.closeReason), retryIn };
    }
    if (this.sourceLost) {
      const { retryAtMs, source } = this.sourceLost;
      const name = source ? `the ${source} source` : "the source";
      const detail =
        retryAtMs !== null && retryAtMs > nowMs
          ? `eegd retries ${name} in ${Math.ceil((retryAtMs - nowMs) / 1000)} s`
          : `eegd is trying to reach ${name} again`;
      return status("source-lost", "Source lost", detail);
    }
    if (!this.hello) return status("waiting", "Waiting for the source", "connected to eegd");
    if (this.lastDataMs === null) {
      return status("waiting", "Waiting for data", "connected; the source has sent nothing yet");
    }
    const silentS = (nowMs - this.lastDataMs) / 1000;
    if (silentS > STALL_S) {
      return status("waiting", "Waiting for the source", `no data for ${Math.floor(silentS)} s`);
    }
    const { channels, sample_rate: rate } = this.hello;
    return status("streaming", "Live", `${channels.length} channels · ${formatRate(rate)}`);
  }
}

function status(state, headline, detail) {
  return { state, retryIn: null, headline, detail };
}

function formatRate(rate) {
  return rate >= 1000 ? `${(rate / 1000).toFixed(rate % 1000 ? 1 : 0)} kHz` : `${rate} Hz`;
}
