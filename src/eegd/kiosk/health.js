// The data-health line: what the daemon's sample ledger (GET /api/status → ledger) says about
// the running session, in samples and seconds ("all samples delivered", or exactly what was
// lost and where), and which supervised part of the daemon is degraded, with the countdown to
// its next retry (task_failed's retry_in) until it is healed. Pure model plus a poller.

const POLL_MS = 1000;

/** "1:05" for 65 s: a position in the session. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v) => String(v).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function seconds(value) {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/**
 * The ledger of session `sessionId` from a /api/status reply, as `{expected, acquired, lost,
 * rate, gaps: [{at, count, seconds, cause}], gapCount}`; null when the reply has none.
 */
export function sessionLedger(status, sessionId) {
  const ledger = status?.ledger;
  if (!ledger) return null;
  const rate = status.source?.sample_rate || 1;
  const entry = (ledger.sessions ?? []).find?.((s) => s.id === sessionId);
  if (entry) {
    const gaps = (entry.gaps ?? []).map((gap) => ({
      at: gap.first_sample / (entry.sample_rate || rate),
      count: gap.count,
      seconds: gap.duration_s,
      cause: gap.cause,
    }));
    return {
      expected: entry.expected,
      acquired: entry.acquired,
      lost: entry.lost,
      rate: entry.sample_rate || rate,
      gaps,
      gapCount: entry.gap_count ?? gaps.length,
    };
  }
  if (status.source?.session !== sessionId || !ledger.session) return null;
  const { expected, acquired, lost } = ledger.session;
  return { expected, acquired, lost, rate, gaps: [], gapCount: lost > 0 ? null : 0 };
}

/** The compact line for a session ledger. */
export function ledgerLine(ledger) {
  if (!ledger) return "ledger: waiting for eegd";
  const length = `${clock(ledger.expected / ledger.rate)} of data`;
  if (ledger.lost === 0) return `all samples delivered · ${length}`;
  const lost = `lost ${ledger.lost.toLocaleString("en")} samples (${seconds(ledger.lost / ledger.rate)} s)`;
  if (!ledger.gaps.length) return `${lost} · ${length}`;
  const count = ledger.gapCount ?? ledger.gaps.length;
  const last = ledger.gaps[ledger.gaps.length - 1];
  const where = `${seconds(last.seconds)} s at ${clock(last.at)}${last.cause ? ` (${last.cause})` : ""}`;
  const gaps = count === 1 ? `in 1 gap: ${where}` : `in ${count} gaps, last ${where}`;
  return `${lost} ${gaps} · ${length}`;
}

/** Supervised tasks that failed and are waiting to be retried, from system events. */
export class DegradedTasks {
  constructor() {
    this.tasks = new Map();
  }

  systemEvent(message, nowMs) {
    const detail = message.detail ?? {};
    const task = detail.task;
    if (typeof task !== "string") return;
    if (message.kind === "task_failed") {
      const retry = Number(detail.retry_in);
      this.tasks.set(task, { retryAtMs: Number.isFinite(retry) ? nowMs + retry * 1000 : null });
    } else if (message.kind === "task_gave_up") {
      this.tasks.set(task, { gaveUp: true });
    } else if (message.kind === "task_restarted" || message.kind === "task_recovered") {
      this.tasks.delete(task);
    }
  }

  /** Forget tasks /api/status reports running again (a missed event heals too). */
  statusTasks(tasks) {
    for (const entry of tasks ?? []) {
      const known = this.tasks.get(entry.name);
      if (known && !known.gaveUp && entry.state === "running" && known.retryAtMs === null) {
        this.tasks.delete(entry.name);
      }
    }
  }

  describe(nowMs) {
    return [...this.tasks].map(([task, state]) => {
      if (state.gaveUp) return `${task} stopped (gave up)`;
      if (state.retryAtMs === null) return `${task} restarting`;
      const left = Math.max(0, Math.ceil((state.retryAtMs - nowMs) / 1000));
      if (left === 0) state.retryAtMs = null;
      return left > 0 ? `${task} retrying in ${left} s` : `${task} restarting`;
    });
  }
}

/** Polls /api/status and shows the line in `element`, state in data- attributes of it. */
export class HealthLine {
  constructor(element) {
    this.element = element;
    this.session = null;
    this.status = null;
    this.degraded = new DegradedTasks();
  }

  start() {
    const poll = async () => {
      try {
        const reply = await fetch("/api/status");
        if (reply.ok) {
          this.status = await reply.json();
          this.degraded.statusTasks(this.status.tasks);
        }
      } catch {
        this.status = null;
      }
      this.render();
      setTimeout(poll, POLL_MS);
    };
    poll();
  }

  /** A new session (from the hello): counters start from zero. */
  setSession(session) {
    if (session === this.session) return;
    this.session = session;
    this.render();
  }

  systemEvent(message) {
    this.degraded.systemEvent(message, performance.now());
    this.render();
  }

  render() {
    const ledger = this.session ? sessionLedger(this.status, this.session) : null;
    const degraded = this.degraded.describe(performance.now());
    const parts = [ledgerLine(ledger)];
    if (degraded.length) parts.unshift(`degraded: ${degraded.join(", ")}`);
    const text = parts.join(" · ");
    const data = this.element.dataset;
    if (this.element.textContent !== text) this.element.textContent = text;
    data.lost = String(ledger?.lost ?? "");
    data.expected = String(ledger?.expected ?? "");
    data.gaps = String(ledger?.gapCount ?? "");
    data.lastGapS = ledger?.gaps.length ? String(ledger.gaps[ledger.gaps.length - 1].seconds) : "";
    data.session = this.session ?? "";
    data.degraded = [...this.degraded.tasks.keys()].join(",");
    this.element.toggleAttribute("data-lossy", Boolean(ledger?.lost));
  }
}
