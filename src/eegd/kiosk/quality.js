// Signal quality per channel as eegd judges it: the `quality` topic (docs/protocol.md, section
// 4.4; the rules are the signal_quality plugin's, docs/plugins.md) brings each channel's
// verdict about twice a second. This reads those messages; it computes nothing. Pure: no DOM,
// no sockets.

/** The topic the daemon publishes the verdicts on, when its signal_quality plugin runs. */
export const QUALITY_TOPIC = "quality";
/** Verdicts older than this (no fresh one since) are no verdicts: the dots go grey. */
export const QUALITY_STALE_MS = 2500;
const LEVELS = new Set(["good", "warn", "bad"]);

/** The verdict while no fresh one comes: grey, saying why (`why`: "reconnecting in 2 s"). */
export function noData(why) {
  return { level: "none", reason: `no data: ${why}`, short: "no data" };
}

/**
 * The verdicts of a `quality` message in the order of `channels` (the hello's names), each
 * `{level, reason, short}`; null for a channel the message does not judge, and null in
 * place of the whole list when the message is not of the `session` shown.
 */
export function verdictsOf(message, channels, session) {
  if (message?.session !== session || !Array.isArray(message.channels)) return null;
  const byName = new Map();
  for (const channel of message.channels) {
    if (typeof channel?.name !== "string" || !LEVELS.has(channel.level)) continue;
    const reason = typeof channel.reason === "string" ? channel.reason : channel.level;
    const short = typeof channel.short === "string" ? channel.short : channel.level;
    byName.set(channel.name, { level: channel.level, reason, short });
  }
  return channels.map((name) => byName.get(name) ?? null);
}

/** The latest verdicts of a session and when they came, so stale ones can be told apart. */
export class QualityVerdicts {
  constructor() {
    this.verdicts = [];
    this.receivedMs = null;
  }

  /** Take a `quality` message received at `nowMs`; false if it was not for this session. */
  take(message, channels, session, nowMs) {
    const verdicts = verdictsOf(message, channels, session);
    if (verdicts === null) return false;
    this.verdicts = verdicts;
    this.receivedMs = nowMs;
    return true;
  }

  /** Forget them (a new session). */
  reset() {
    this.verdicts = [];
    this.receivedMs = null;
  }

  /** Whether the latest verdicts are fresh at `nowMs`. */
  fresh(nowMs) {
    return this.receivedMs !== null && nowMs - this.receivedMs < QUALITY_STALE_MS;
  }

  /** Whole seconds since the latest verdicts came (0 before any). */
  silentS(nowMs) {
    return this.receivedMs === null ? 0 : Math.floor((nowMs - this.receivedMs) / 1000);
  }
}
