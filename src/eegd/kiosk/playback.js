// The playback bar, shown while a file plays: pause and resume, seek, speed (0.5–4×), loop,
// and another file from the daemon's playback directories, all through GET and PUT
// /api/playback. The daemon makes every change but a pause a new session starting at the
// chosen place (a seek is announced, never a silent jump); a pause ends the session. The
// bar polls the state once a second while a file plays, and at once after a change anyone
// made (a config_changed event) or a reconnection: nothing while a device streams.
// State for tests on #playback: data-playing, data-paused, data-ended, data-speed,
// data-loop, data-position (s), data-start (s), data-file.

import { clock } from "./status.js";

const ENDPOINT = "/api/playback";
const POLL_MS = 1000;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

export class PlaybackBar {
  /** `onRefused(action, message, status)` hears every refusal; `changed(state)` every state. */
  constructor(root, onRefused, changed) {
    this.root = root;
    this.onRefused = onRefused;
    this.changed = changed;
    this.state = null;
    this.changes = 0; // PUTs sent: a poll begun before one is older than its answer
    this.files = [];
    this.speeds = [0.5, 1, 2, 4];
    this.toggle = element("button", { type: "button", id: "playback-toggle" }, "Pause file");
    this.seek = element("input", {
      type: "range",
      id: "playback-seek",
      min: "0",
      step: "0.1",
      value: "0",
      "aria-label": "Position in the file",
    });
    this.time = element("span", { class: "playback-time", id: "playback-time" });
    this.speedGroup = element("div", { class: "playback-speeds", id: "playback-speeds", role: "group", "aria-label": "Speed" });
    this.loop = element("button", { type: "button", id: "playback-loop", "aria-pressed": "false", title: "Loop" }, "Loop");
    this.fileButton = element("button", { type: "button", id: "playback-file", "aria-expanded": "false" }, "File");
    this.fileList = element("ul", { class: "playback-files", id: "playback-files", hidden: "" });
    const files = element("div", { class: "playback-chooser" });
    files.append(this.fileButton, this.fileList);
    root.append(this.toggle, this.seek, this.time, this.speedGroup, this.loop, files);
    this.dragging = false;
    this.toggle.addEventListener("click", () => this.onToggle());
    this.seek.addEventListener("input", () => {
      this.dragging = true;
      this.showTime(Number(this.seek.value));
    });
    this.seek.addEventListener("change", () => {
      this.dragging = false;
      this.put("Seek", { position_s: Number(this.seek.value) });
    });
    this.speedGroup.addEventListener("click", (event) => {
      const speed = event.target.closest("button")?.dataset.speed;
      if (speed) this.put("Speed", { speed: Number(speed) });
    });
    this.loop.addEventListener("click", () => this.put("Loop", { loop: !this.state?.loop }));
    this.fileButton.addEventListener("click", () => this.setListOpen(this.fileList.hidden));
    this.fileList.addEventListener("click", (event) => {
      const path = event.target.closest("button")?.dataset.path;
      if (!path) return;
      this.setListOpen(false);
      this.put("Playing the file", { path });
    });
  }

  start() {
    const poll = async () => {
      if (this.state?.playing) await this.refresh();
      setTimeout(poll, POLL_MS);
    };
    this.refresh().then(poll);
  }

  /** A system message: a source change anyone made shows at once. */
  systemEvent(message) {
    if (["config_changed", "source_ended", "source_connected"].includes(message.kind)) this.refresh();
  }

  async refresh() {
    const changes = this.changes;
    try {
      const reply = await fetch(ENDPOINT, { cache: "no-store" });
      if (!reply.ok) return;
      const answer = await reply.json();
      if (changes !== this.changes || this.root.dataset.busy) return; // stale: a change came
      this.files = answer.files ?? [];
      this.speeds = answer.speeds ?? this.speeds;
      this.show(answer.state);
    } catch {
      // the status line already says why eegd cannot be reached
    }
  }

  onToggle() {
    const state = this.state;
    if (!state) return;
    if (state.ended) this.put("Replay", { position_s: 0 });
    else this.put(state.paused ? "Resume" : "Pause", { paused: !state.paused });
  }

  /** One change at a time: the bar's controls wait while one is under way. */
  async put(action, body) {
    if (this.root.dataset.busy) return;
    this.root.dataset.busy = "true";
    this.changes += 1;
    const controls = [...this.root.querySelectorAll("button, input")];
    for (const control of controls) control.disabled = true;
    try {
      const reply = await fetch(ENDPOINT, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await reply.json().catch(() => ({}));
      if (!reply.ok) {
        this.onRefused(action, answer.message ?? String(reply.status), reply.status);
        return;
      }
      this.show(answer);
    } catch (error) {
      this.onRefused(action, error.message, 0);
    } finally {
      delete this.root.dataset.busy;
      for (const control of controls) control.disabled = false;
      this.seek.disabled = !this.state?.duration_s;
    }
  }

  setListOpen(open) {
    if (open) this.buildList();
    this.fileList.hidden = !open;
    this.fileButton.setAttribute("aria-expanded", String(open));
  }

  buildList() {
    const items = this.files.map((file) => {
      const item = document.createElement("li");
      const button = element("button", { type: "button", "data-path": file.path, title: file.path }, file.name);
      button.setAttribute("aria-pressed", String(file.path === this.state?.path));
      item.append(button);
      return item;
    });
    if (!items.length) items.push(element("li", {}, "no EDF or BDF files in the playback directories"));
    this.fileList.replaceChildren(...items);
  }

  showTime(position) {
    const duration = this.state?.duration_s;
    this.time.textContent = duration ? `${clock(position)} / ${clock(duration)}` : clock(position);
  }

  show(state) {
    this.state = state;
    const playing = Boolean(state?.playing);
    this.root.hidden = !playing;
    const data = this.root.dataset;
    data.playing = String(playing);
    this.changed(state);
    if (!playing) return;
    data.paused = String(state.paused);
    data.ended = String(state.ended);
    data.speed = String(state.speed);
    data.loop = String(state.loop);
    data.position = String(state.position_s);
    data.start = String(state.start_s);
    data.file = state.name;
    this.toggle.textContent = state.ended ? "Replay" : state.paused ? "Play file" : "Pause file";
    this.toggle.setAttribute("aria-pressed", String(state.paused));
    this.seek.max = String(state.duration_s ?? 0);
    this.seek.disabled = !state.duration_s;
    if (!this.dragging) {
      this.seek.value = String(state.position_s);
      this.showTime(state.position_s);
    }
    this.loop.setAttribute("aria-pressed", String(state.loop));
    if (this.speedGroup.children.length !== this.speeds.length) {
      this.speedGroup.replaceChildren(
        ...this.speeds.map((speed) => element("button", { type: "button", "data-speed": String(speed) }, `${speed}×`)),
      );
    }
    for (const button of this.speedGroup.children) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.speed) === state.speed));
    }
    this.fileButton.title = state.path;
  }
}
