// The voltage filter's settings on the page: read with GET /api/filter, changed with
// PUT /api/filter (only the key that changed), and followed when anyone changes them (the
// config_changed event carries the new state). `summary` says what is in effect in a few
// words, for the line that is always visible.

const ENDPOINT = "/api/filter";

/** The presets offered: 0 turns a stage off. */
export const PRESETS = {
  notch_hz: [50, 60, 0],
  highpass_hz: [0, 0.1, 0.5, 1, 2],
  lowpass_hz: [30, 45, 70, 0],
};

/** "0.5–45 Hz · notch 50 Hz" for a filter state; "no filter" when every stage is off. */
export function summary(state) {
  if (!state) return "filter: unknown";
  const hp = state.highpass_hz || 0;
  const lp = state.lowpass_hz || 0;
  const parts = [];
  if (hp && lp) parts.push(`${hp}–${lp} Hz`);
  else if (hp) parts.push(`high-pass ${hp} Hz`);
  else if (lp) parts.push(`low-pass ${lp} Hz`);
  if (state.notch_hz) parts.push(`notch ${state.notch_hz} Hz`);
  return parts.length ? parts.join(" · ") : "no filter";
}

/** Talks to /api/filter; `changed(state)` is called with every state learnt. */
export class FilterSettings {
  constructor(changed, onRefused = () => {}) {
    this.changed = changed;
    this.onRefused = onRefused;
    this.state = null;
    this.error = null;
  }

  async load() {
    try {
      const reply = await fetch(ENDPOINT);
      if (reply.ok) this.learn(await reply.json());
    } catch (error) {
      console.warn("eegd kiosk: GET /api/filter failed", error);
    }
  }

  /** Change one key; a refusal keeps the old state and says why. */
  async set(key, value) {
    try {
      const reply = await fetch(ENDPOINT, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ [key]: value }),
      });
      const answer = await reply.json().catch(() => ({}));
      if (!reply.ok) {
        const message = answer.message ?? `PUT ${ENDPOINT}: ${reply.status}`;
        if (reply.status === 401 || reply.status === 403) {
          this.onRefused("A filter change", message, reply.status);
        }
        throw new Error(message);
      }
      this.error = null;
      this.learn(answer);
    } catch (error) {
      this.error = error.message;
      this.changed(this.state);
    }
  }

  /** A system message: config_changed of the voltage filter carries its new state. */
  systemEvent(message) {
    if (message.kind === "config_changed" && message.detail?.filter) {
      this.learn(message.detail.filter);
    }
  }

  learn(state) {
    this.state = state;
    this.changed(state);
  }
}
