// Recording controls: a record button with the elapsed time, the file's name and size, a
// marker button, and the list of recordings with download links. They talk to the REST API
// (/api/recordings, /api/markers), not to the WebSocket, and mirror their state into
// data- attributes (data-recording, data-recordings) for tests.

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
  if (!reply.ok) throw new Error(answer.message ?? `${method} ${path}: ${reply.status}`);
  return answer;
}

export class RecordingPanel {
  constructor(root) {
    this.root = root;
    this.record = root.querySelector("#record");
    this.recordLabel = root.querySelector("#record-label");
    this.marker = root.querySelector("#marker");
    this.info = root.querySelector("#recording-info");
    this.list = root.querySelector("#recordings");
    this.current = null;
    this.startedMs = null;
    this.record.addEventListener("click", () => this.toggle());
    this.marker.addEventListener("click", () => this.mark());
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
    } catch (error) {
      this.info.textContent = error.message;
    } finally {
      this.record.disabled = false;
      await this.refresh();
    }
  }

  async mark() {
    try {
      const marker = await call("POST", "/api/markers", { label: "marker" });
      this.root.dataset.markers = String(Number(this.root.dataset.markers ?? "0") + 1);
      this.marker.title = `marked at sample ${marker.sample ?? "?"}`;
    } catch (error) {
      this.info.textContent = error.message;
    }
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
    this.show(entries);
  }

  show(entries) {
    const recording = this.current !== null;
    this.root.dataset.recording = String(recording);
    this.root.dataset.recordings = String(entries.length);
    this.record.setAttribute("aria-pressed", String(recording));
    const elapsed = recording ? formatElapsed((Date.now() - this.startedMs) / 1000) : "";
    this.recordLabel.textContent = recording ? `Stop ${elapsed.replace(/^00:/, "")}` : "Record";
    this.marker.disabled = !recording;
    this.info.textContent = recording
      ? `${elapsed} · ${this.current.name} · ${formatBytes(this.current.size ?? 0)}`
      : "";
    this.root.dataset.file = recording ? this.current.name : "";
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
