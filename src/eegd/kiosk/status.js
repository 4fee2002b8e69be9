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
    this.ended = false;
    this.playback = null;
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
    this.ended = false;
  }

  closed(retryAtMs, reason) {
    this.link = "closed";
    this.retryAtMs = retryAtMs;
    this.closeReason = reason;
  }

  /** The playback's state (GET /api/playback → state), or null: a paused file says so. */
  setPlayback(state) {
    this.playback = state?.playing ? state : null;
  }

  helloReceived(hello) {
    if (hello.session !== this.hello?.session) this.ended = false;
    this.hello = hello;
  }

  dataReceived(nowMs) {
    this.lastDataMs = nowMs;
    this.sourceLost = null;
    this.ended = false;
  }

  /**
   * A `system` message. source_lost (detail: `source`, the kind, and `error`) and
   * source_connected change what the page says; source_ended (a played file's last sample)
   * is the end-of-file state, until a new session or new data. When eegd retries the source
   * (or gave up) is the supervisor's, which `describe` is handed (health.js keeps it), so the
   * page shows one countdown.
   */
  systemEvent(message) {
    const detail = message.detail ?? {};
    if (message.kind === "source_lost") {
      this.sourceLost = { source: detail.source ?? null };
      this.lastDataMs = null;
    } else if (message.kind === "source_connected") {
      this.sourceLost = null;
    } else if (message.kind === "source_ended") {
      this.ended = true;
      this.lastDataMs = null;
    }
  }

  /**
   * The source as lost when the page missed source_lost (it opened after it): the acquisition
   * task backs off or gave up and no data came for STALL_S. A reopen that fails announces
   * nothing, so without this such a page would wait for data while the health line counts
   * down the next retry. Null otherwise (data flowing wins over a poll older than it).
   */
  lostWhileAway(nowMs, acquisition) {
    if (!acquisition) return null;
    if (this.lastDataMs !== null && nowMs - this.lastDataMs <= STALL_S * 1000) return null;
    return { source: acquisition.source ?? null };
  }

  /**
   * `{state, retryIn, headline, detail}` at time `nowMs`; retryIn is seconds or null.
   * `acquisition` is the acquisition task's retry state (`{retryAtMs}` or `{gaveUp}`, with
   * the source's kind as `source` when known), or undefined while it runs.
   */
  describe(nowMs, acquisition = undefined) {
    if (this.link === "connecting") {
      const detail = this.attempt > 1 ? `attempt ${this.attempt}` : this.host;
      return status("connecting", "Connecting to eegd…", detail);
    }
    if (this.link === "closed") {
      const retryIn = Math.max(0, (this.retryAtMs - nowMs) / 1000);
      const headline = `Reconnecting in ${Math.max(1, Math.ceil(retryIn))} s`;
      return { ...status("reconnecting", headline, this.closeReason), retryIn };
    }
    const playback = this.playback;
    if (playback?.paused) {
      const at = `at ${clock(playback.position_s)} of ${playback.name}`;
      return status("playback-paused", "Playback paused", at);
    }
    const lost = this.sourceLost ?? this.lostWhileAway(nowMs, acquisition);
    if (lost) {
      const { source } = lost;
      const name = source ? `the ${source} source` : "the source";
      if (acquisition?.gaveUp) return status("source-lost", "Source lost", `eegd gave up on ${name}`);
      const retryAtMs = acquisition?.retryAtMs ?? null;
      if (retryAtMs !== null && retryAtMs > nowMs) {
        const retryIn = (retryAtMs - nowMs) / 1000;
        const detail = `eegd retries ${name} in ${secondsLeft(retryAtMs, nowMs)} s`;
        return { ...status("source-lost", "Source lost", detail), retryIn };
      }
      return status("source-lost", "Source lost", `eegd is trying to reach ${name} again`);
    }
    if (this.ended) return status("ended", "End of file", "the file played to its end");
    if (!this.hello) return status("waiting", "Waiting for the source", "connected to eegd");
    if (this.lastDataMs === null) {
      return status("waiting", "Waiting for data", "connected; the source has sent nothing yet");
    }
    const silentS = (nowMs - this.lastDataMs) / 1000;
    if (silentS > STALL_S) {
      return status("waiting", "Waiting for the source", `no data for ${Math.floor(silentS)} s`);
    }
    const { channels, sample_rate: rate } = this.hello;
    const shape = `${channels.length} channels · ${formatRate(rate)}`;
    if (playback) return status("streaming", "Playing", `${playback.name} · ${shape}`);
    return status("streaming", "Live", shape);
  }
}

/** The supervised task that reads the source (eegd.daemon.ACQUISITION_TASK). */
export const ACQUISITION_TASK = "acquisition";

/** "1:05" for 65 s: a position in a session or a file. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v) => String(v).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Whole seconds until `atMs`, as every countdown on the page shows them. */
export function secondsLeft(atMs, nowMs) {
  return Math.max(0, Math.ceil((atMs - nowMs) / 1000));
}

function status(state, headline, detail) {
  return { state, retryIn: null, headline, detail };
}

function formatRate(rate) {
  return rate >= 1000 ? `${(rate / 1000).toFixed(rate % 1000 ? 1 : 0)} kHz` : `${rate} Hz`;
}
