// The traces panel wired together: the strip (traces.js), its scale and the scale controls
// (tracescale.js), the lane labels and pages (lanelabels.js), the selected channel, pause, the
// signal shown (filtered or raw, the only one of the two subscribed to) with its frame count
// (traffic.js), and the rates eegd is asked for (decimation.js: an envelope the trace can
// show; the raw view at a rate that keeps line noise visible). State for tests on <body>:
// data-paused, data-signal, data-window-s, data-max-rate, data-decimated, data-pair-rate,
// data-markers.

import { nextMaxRate, wantedMaxRate } from "./decimation.js";
import { setData } from "./dom.js";
import { LaneLabels } from "./lanelabels.js";
import { Topic } from "./protocol.js";
import { formatRate } from "./source.js";
import { TraceView } from "./traces.js";
import { TraceScale } from "./tracescale.js";
import { Traffic } from "./traffic.js";

/** Raw pairs per second asked for at high rates: enough to see line noise up to 60 Hz. */
const QUALITY_RATE = 500;

const IDS = [
  "lane-labels",
  "scale-down",
  "scale-up",
  "scale-mode",
  "scale-value",
  "scale-label",
  "scale-bar",
  "scale-bar-label",
  "pause",
  "pause-label",
  "page-nav",
  "page-prev",
  "page-next",
  "page-label",
  "page-names",
  "display-note",
];

export class TracePanel {
  /**
   * `connection` is asked for the rates; `onSelect(channel)` is told of a tap on a label (null:
   * none), `onNote(text)` of a new line saying how the trace is drawn, `onScaleMode(mode)` of a
   * scale made global by a step; `wake()` asks for a display frame.
   */
  constructor(byId, theme, connection, { onSelect, onNote, onScaleMode, wake }) {
    const camel = (id) => id.replace(/-(\w)/g, (_, letter) => letter.toUpperCase());
    this.ui = Object.fromEntries(IDS.map((id) => [camel(id), byId(id)]));
    this.body = document.body;
    this.theme = theme;
    this.connection = connection;
    this.onNote = onNote;
    this.onScaleMode = onScaleMode;
    this.traces = new TraceView(byId("trace-strip"), byId("trace-grid"), theme, wake);
    this.scale = new TraceScale(this.ui);
    const tapped = (c, relayout) => (relayout ? this.relayout() : onSelect(c));
    this.labels = new LaneLabels(this.ui, tapped);
    this.traffic = new Traffic();
    this.hello = null;
    this.paused = false;
    this.signal = "filtered";
    this.maxRate = null;
    this.rawMaxRate = null;
    this.markers = 0;
    this.ui.scaleDown.addEventListener("click", () => this.stepScale(-1));
    this.ui.scaleUp.addEventListener("click", () => this.stepScale(1));
    this.ui.scaleMode.addEventListener("click", () => this.scale.toggleAuto());
    new ResizeObserver(() => this.relayout()).observe(this.ui.laneLabels);
  }

  /** The selected channel's index, or null. */
  get selected() {
    return this.labels.selected;
  }

  /** Channels that are hidden (indices). */
  get hidden() {
    return this.labels.hidden;
  }

  /** A new session (`hello`): every channel shown, nothing selected, an empty trace. */
  newSession(hello) {
    this.hello = hello;
    this.labels.reset(hello.channels);
    this.scale.reset(hello.channels.length);
    this.chooseRates();
    this.traces.clearMarkers();
    this.restart();
    this.relayout();
  }

  /** Start the trace afresh for the current session and signal. */
  restart() {
    const hello = this.hello;
    const rate = this.signal === "raw" ? this.rawMaxRate : this.maxRate;
    this.traces.reset(hello.channels.length, hello.sample_rate, rate ?? hello.sample_rate);
    this.traffic.restart();
  }

  /** Cut the shown channels into pages again and give the strip the current page's lanes. */
  relayout() {
    this.traces.setLanes(this.labels.layout(this.theme.name));
  }

  /** Mark channel `c` (or none, null) as selected. */
  select(c) {
    this.labels.select(c);
  }

  /** Store an EEG frame if it is of the signal shown; returns whether it was. */
  push(frame) {
    const shown = this.signal === "raw" ? Topic.RAW_EEG : Topic.FILTERED_EEG;
    if (frame.topic !== shown) return false;
    // A pair's rate is the sample rate over a whole number of samples per pair.
    const span = frame.decimated ? Math.round(this.hello.sample_rate / frame.sampleRate) || 1 : 1;
    this.traffic.count(frame, span);
    this.traces.push(frame, span);
    setData(this.body, "decimated", frame.decimated);
    setData(this.body, "pairRate", frame.decimated ? frame.sampleRate : null);
    return true;
  }

  /** A marker (anyone's, or a played file's annotation) of this session: a flag at its sample. */
  marker(message) {
    if (!this.hello || message.session !== this.hello.session) return;
    if (!Number.isSafeInteger(message.sample) || typeof message.label !== "string") return;
    this.traces.addMarker(message.sample, message.label);
    this.markers += 1;
    setData(this.body, "markers", this.markers);
  }

  /**
   * Ask eegd for the envelope rate the trace needs (decimation.js has the rule), and for the
   * raw stream at a rate that keeps line noise visible; called on a new session and periodically,
   * since the canvas may have been resized or the window changed.
   */
  chooseRates() {
    if (!this.hello) return;
    const rate = this.hello.sample_rate;
    const wanted = wantedMaxRate(rate, this.traces.columnsPerSecond());
    const next = nextMaxRate(this.maxRate, wanted);
    const quality = rate > 2 * QUALITY_RATE ? QUALITY_RATE : null;
    const raw = this.signal === "raw" && next !== null ? Math.max(next, QUALITY_RATE) : quality;
    if (next !== this.maxRate) {
      this.maxRate = next;
      this.connection.setMaxRate("filtered_eeg", next);
      if (this.signal === "filtered") this.traces.setEntryRate(next ?? rate);
      setData(this.body, "maxRate", next);
    }
    if (raw !== this.rawMaxRate) {
      this.rawMaxRate = raw;
      this.connection.setMaxRate("raw_eeg", raw);
      if (this.signal === "raw") this.traces.setEntryRate(raw ?? rate);
    }
  }

  /** Say how the trace is drawn: "filtered · envelope, 16 kHz shown at 200 px/s". */
  showNote() {
    const hello = this.hello;
    if (!hello) return;
    const pxPerS = Math.round(this.traces.columnsPerSecond() / (window.devicePixelRatio || 1));
    const how = this.body.dataset.decimated === "true" ? "envelope" : "every sample";
    const rate = formatRate(hello.sample_rate);
    const note = `${this.signal} · ${how}, ${rate} shown at ${pxPerS} px/s`;
    if (this.ui.displayNote.textContent !== note) {
      this.ui.displayNote.textContent = note;
      this.onNote(note);
    }
  }

  /** Draw one display frame at `nowMs`; returns when the next is due (ms). */
  draw(nowMs) {
    const scales = this.scale.scales(nowMs, this.traces, this.labels.lanes);
    this.scale.show(this.selected ?? this.labels.lanes[0], this.labels.laneHeight());
    return Math.min(this.traces.draw(nowMs, scales), this.scale.dueMs());
  }

  /** When the panel next needs a frame, as of `nowMs` (after new data). */
  dueMs(nowMs) {
    return Math.min(this.traces.dueMs(nowMs), this.scale.dueMs());
  }

  /** Freeze (true) or resume (false) the picture; data keeps being stored meanwhile. */
  setPaused(paused) {
    this.paused = paused;
    this.traces.setPaused(paused);
    setData(this.body, "paused", paused);
    this.ui.pause.setAttribute("aria-pressed", String(paused));
    this.ui.pauseLabel.textContent = paused ? "Resume" : "Pause";
  }

  /** One fixed scale step up (+1) or down (-1). */
  stepScale(direction) {
    this.scale.step(direction);
    this.onScaleMode("global");
  }

  setWindow(seconds) {
    this.traces.setWindow(seconds);
    setData(this.body, "windowS", seconds);
    this.chooseRates();
  }

  /** Show the "filtered" or the "raw" signal (only the one shown is subscribed to). */
  setSignal(signal) {
    this.signal = signal;
    setData(this.body, "signal", signal);
    this.chooseRates();
    this.connection.want("raw_eeg", signal === "raw");
    this.connection.want("filtered_eeg", signal === "filtered");
    if (this.hello) this.restart();
  }

  /** Colours changed: redraw the strip and the labels. */
  restyle() {
    this.traces.invalidate();
    this.relayout();
  }

  /** Hide the selected channel's lane (nothing selected afterwards); false without one. */
  hideSelected() {
    const c = this.selected;
    if (c === null) return false;
    this.labels.hidden.add(c);
    this.labels.select(null);
    this.relayout();
    return true;
  }

  showAll() {
    this.labels.hidden.clear();
    this.relayout();
  }
}
