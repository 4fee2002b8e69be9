// Recording controls: a record button with the elapsed time, the file's name and size, and
// the list of recordings with download links (markers.js has the marker buttons). They talk
// to the REST API (/api/recordings), not to the WebSocket, and mirror their state into
// data- attributes (data-recording, data-recordings, data-polls, data-error) for tests.
// A refusal is never silent: it goes to `onRefused(action, message, status)` (the sign-in
// form for a refusal of the role, else the footer's line), and the next poll does not wipe it.

import { setData, setText } from "./dom.js";

const POLL_MS = 1000;

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatElapsed(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  const pad = (value) => String(value).padStart(2, "0");
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:${pad(whole % 60)}`;
}

async function call(method, path, body) {
  const reply = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await reply.json();
  if (!reply.ok) throw new Refused(answer.message ?? `${method} ${path}: ${reply.status}`, reply.status);
  return answer;
}

/** A request eegd answered with an error: its message and HTTP status. */
export class Refused extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export class RecordingPanel {
  constructor(root, onRefused) {
    this.root = root;
    this.onRefused = onRefused;
    this.polls = 0;
    this.record = root.querySelector("#record");
    this.recordLabel = root.querySelector("#record-label");
    this.info = root.querySelector("#recording-info");
    this.list = root.querySelector("#recordings");
    this.current = null;
    this.startedMs = null;
    this.listed = "";
    this.record.addEventListener("click", () => this.toggle());
  }

  start() {
    this.refresh();
    setInterval(() => this.refresh(), POLL_MS);
  }

  async toggle() {
    this.record.disabled = true;
    try {
      if (this.current) await call("POST", "/api/recordings/current/stop");
      else await call("POST", "/api/recordings", {});
      delete this.root.dataset.error;
    } catch (error) {
      this.refused(this.current ? "Stop" : "Record", error);
    } finally {
      this.record.disabled = false;
      await this.refresh();
    }
  }

  refused(action, error) {
    this.root.dataset.error = `${action} refused: ${error.message}`;
    this.onRefused(action, error.message, error.status ?? 0);
  }

  async refresh() {
    let listing;
    try {
      listing = await call("GET", "/api/recordings");
    } catch {
      return; // the status line already says why eegd cannot be reached
    }
    const entries = listing.recordings ?? [];
    const current = entries.find((entry) => entry.status === "recording") ?? null;
    if (listing.recording && !current) this.current = { name: listing.recording, size: 0 };
    else this.current = current;
    if (this.current && this.startedMs === null) {
      const started = Date.parse(this.current.start ?? "");
      this.startedMs = Number.isNaN(started) ? Date.now() : started;
    }
    if (!this.current) this.startedMs = null;
    this.polls += 1;
    this.root.dataset.polls = String(this.polls);
    this.show(entries);
  }

  show(entries) {
    const recording = this.current !== null;
    setData(this.root, "recording", recording);
    setData(this.root, "recordings", entries.length);
    if (this.record.getAttribute("aria-pressed") !== String(recording)) {
      this.record.setAttribute("aria-pressed", String(recording));
    }
    const elapsed = recording ? formatElapsed((Date.now() - this.startedMs) / 1000) : "";
    setText(this.recordLabel, recording ? `Stop ${elapsed.replace(/^00:/, "")}` : "Record");
    setText(
      this.info,
      recording ? `${elapsed} · ${this.current.name} · ${formatBytes(this.current.size ?? 0)}` : "",
    );
    setData(this.root, "file", recording ? this.current.name : "");
    const listed = JSON.stringify(entries);
    if (listed === this.listed) return; // the list is rebuilt only when it changed
    this.listed = listed;
    const items = entries
      .slice()
      .reverse()
      .map((entry) => {
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = `/api/recordings/${encodeURIComponent(entry.name)}`;
        link.textContent = entry.name;
        link.setAttribute("download", "");
        const note = document.createElement("span");
        note.textContent =
          ` ${entry.format} · ${formatElapsed(entry.duration_s)} · ${formatBytes(entry.size)}` +
          (entry.status === "complete" ? "" : ` · ${entry.status}`);
        item.append(link, note);
        return item;
      });
    this.list.replaceChildren(...items);
  }
}
