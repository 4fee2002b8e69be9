// The data-health line: what the daemon's sample ledger (GET /api/status → ledger) says about
// the running session, in samples and seconds ("all samples delivered", or exactly what was
// lost and where), and which supervised part of the daemon is degraded, with the countdown to
// its next retry (task_failed's retry_in) until it is healed. Pure model plus a poller.
// The status line's countdown for the source is this one (StatusModel.describe is handed
// it), and both are drawn in the same tick (the app calls `render`, nothing else does): the
// page never shows two numbers.

import { setData } from "./dom.js";
import { ACQUISITION_TASK, clock, secondsLeft } from "./status.js";

const POLL_MS = 1000;
/** A polled retry time this close to the one already known is the same retry, seen later. */
const SAME_RETRY_MS = 1500;

function seconds(value) {
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/**
 * The ledger of session `sessionId` from a /api/status reply, as `{expected, acquired, lost,
 * rate, gaps: [{at, count, seconds, cause}], gapCount}`; null when the reply has none.
 */
export function sessionLedger(status, sessionId) {
  const ledger = status?.ledger;
  const entry = [ledger?.session, ...(ledger?.sessions ?? [])].find((s) => s?.id === sessionId);
  if (!entry) return null;
  const rate = entry.sample_rate || status.source?.sample_rate || 1;
  const gaps = (entry.gaps ?? []).map((gap) => ({
    at: gap.first_sample / rate,
    count: gap.count,
    seconds: gap.duration_s,
    cause: gap.cause,
  }));
  return {
    expected: entry.expected,
    acquired: entry.acquired,
    lost: entry.lost,
    rate,
    gaps,
    gapCount: entry.gap_count ?? gaps.length,
  };
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

/**
 * The supervised parts that are not working: /api/status → degraded (tasks backing off, with
 * the seconds until their retry, or given up) once a second, and the supervisor's task_failed
 * / task_restarted / task_gave_up events in between, so the line changes at once.
 */
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
    } else if (message.kind === "task_restarted") {
      this.tasks.delete(task);
    }
  }

  /**
   * The daemon's own list (`degraded` of /api/status) replaces what the events said; a
   * retry time within SAME_RETRY_MS of the known one keeps the known one (the poll's own
   * delay would otherwise make the countdown jump).
   */
  statusDegraded(degraded, nowMs) {
    if (!Array.isArray(degraded)) return;
    this.tasks = new Map(
      degraded.map((part) => {
        if (part.state === "gave_up") return [part.task, { gaveUp: true }];
        const retry = part.retry_in_s;
        const polled = retry === null ? null : nowMs + retry * 1000;
        const known = this.tasks.get(part.task)?.retryAtMs ?? null;
        const same = known !== null && polled !== null && Math.abs(known - polled) < SAME_RETRY_MS;
        return [part.task, { retryAtMs: same ? known : polled }];
      }),
    );
  }

  /** The acquisition task's state (`{retryAtMs}` or `{gaveUp}`), undefined while it runs. */
  acquisition() {
    return this.tasks.get(ACQUISITION_TASK);
  }

  describe(nowMs) {
    return [...this.tasks].map(([task, state]) => {
      if (state.gaveUp) return `${task} stopped (gave up)`;
      const left = state.retryAtMs === null ? 0 : secondsLeft(state.retryAtMs, nowMs);
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
          this.degraded.statusDegraded(this.status.degraded, performance.now());
        }
      } catch {
        this.status = null;
      }
      setTimeout(poll, POLL_MS);
    };
    poll();
  }

  /**
   * Whether the daemon's acquisition of `session` has finished: a file played to its end
   * (only a finite source's task finishes). A page that opens after the end learns it here,
   * having missed the source_ended event.
   */
  finished(session) {
    const status = this.status;
    if (!session || status?.source?.session !== session) return false;
    return (status.tasks ?? []).some((t) => t.name === ACQUISITION_TASK && t.state === "finished");
  }

  /**
   * The acquisition task's retry state (DegradedTasks.acquisition) with the source's kind as
   * `source` (from the last poll), undefined while it runs.
   */
  acquisition() {
    const state = this.degraded.acquisition();
    return state && { ...state, source: this.status?.source?.kind ?? null };
  }

  /** A new session (from the hello): counters start from zero. */
  setSession(session) {
    this.session = session;
  }

  systemEvent(message) {
    this.degraded.systemEvent(message, performance.now());
  }

  /** Draw the line as of `nowMs` (the app calls this with the status line, every tick). */
  render(nowMs) {
    const ledger = this.session ? sessionLedger(this.status, this.session) : null;
    const degraded = this.degraded.describe(nowMs);
    const parts = [ledgerLine(ledger)];
    if (degraded.length) parts.unshift(`degraded: ${degraded.join(", ")}`);
    const text = parts.join(" · ");
    const element = this.element;
    if (element.textContent !== text) element.textContent = text;
    setData(element, "lost", ledger?.lost ?? "");
    setData(element, "expected", ledger?.expected ?? "");
    setData(element, "gaps", ledger?.gapCount ?? "");
    setData(element, "lastGapS", ledger?.gaps.length ? ledger.gaps[ledger.gaps.length - 1].seconds : "");
    setData(element, "session", this.session ?? "");
    setData(element, "degraded", [...this.degraded.tasks.keys()].join(","));
    setData(element, "lossy", ledger?.lost ? "" : null);
  }
}
