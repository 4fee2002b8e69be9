// The kiosk's composition root: it builds the views, routes eegd's messages to them, applies
// the display settings and starts the timers. Messages fill the buffers, display frames draw
// them when something is due (frames.js: not at every frame), and the page's state is
// mirrored into data- attributes that tests and people can read (each view says which).

import { accelerometerOf } from "./accel.js";
import { BrainWavesPanel } from "./brainwaves.js";
import { THEMES } from "./colors.js";
import { Connection } from "./connection.js";
import { DisplayPanel, FILTER_KEYS } from "./display.js";
import { setData } from "./dom.js";
import { FilterSettings, summary as filterSummary } from "./filters.js";
import { FrameLoop } from "./frames.js";
import { HealthLine } from "./health.js";
import { ImpedancePanel } from "./impedance.js";
import { MarkerButtons } from "./markers.js";
import { PlaybackBar } from "./playback.js";
import { ProtocolError, Topic, decodeFrame, parseText } from "./protocol.js";
import { QUALITY_TOPIC } from "./quality.js";
import { QualityDots } from "./qualitydots.js";
import { RecordingPanel } from "./recording.js";
import { SelfTestPanel } from "./selftest.js";
import { bindKeys } from "./shortcuts.js";
import { SignInPanel } from "./signin.js";
import { SourcePanel } from "./source.js";
import { StatusModel } from "./status.js";
import { StatusLine } from "./statusline.js";
import { TracePanel } from "./tracepanel.js";
import { DEFAULT_WINDOW_S } from "./traces.js";

const STATUS_EVERY_MS = 200;
const DISPLAY_RATE_EVERY_MS = 1000;

const byId = (id) => document.getElementById(id);
const body = document.body;
const theme = { ...THEMES.dark };
let hello = null;
let paused = false;
const frames = new FrameLoop(drawFrame);

// ------------------------------------------------------------------ the views

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
// The EEG topic shown is added by the trace panel (filtered_eeg or raw_eeg, tracepanel.js).
const connection = new Connection(wsUrl, ["fft", "marker"], {
  connecting(attempt) {
    status.connecting(attempt);
    updateStatus();
  },
  open() {
    status.opened();
    filters.load();
    signIn.refresh(); // a restarted daemon has forgotten every sign-in
    playbackBar.refresh();
    updateStatus();
  },
  message: onMessage,
  closed(retryAtMs, reason) {
    status.closed(retryAtMs, reason);
    updateStatus();
  },
});
const status = new StatusModel(location.host);
const health = new HealthLine(byId("health"));
const statusLine = new StatusLine(byId, status, health);
const display = new DisplayPanel(byId("display-open"), onDisplayChange);
const tracePanel = new TracePanel(byId, theme, connection, {
  onSelect: select,
  onNote: (note) => display.showNote(note),
  onScaleMode: (mode) => display.show("scaleMode", mode),
  wake: () => frames.request(),
});
const traffic = tracePanel.traffic;
const brainWaves = new BrainWavesPanel(byId, theme);
const quality = new QualityDots(tracePanel.labels, byId("channel-info"));
const filters = new FilterSettings(showFilter, refused);
const sourcePanel = new SourcePanel(byId("source-settings"));
const signIn = new SignInPanel();
const markerButtons = new MarkerButtons(byId("markers"), refused);
const impedance = new ImpedancePanel(
  document.querySelector(".trace-foot"),
  document.querySelector(".trace-body"),
  refused,
);
const playbackBar = new PlaybackBar(byId("playback"), refused, (state) => {
  status.setPlayback(state);
  updateStatus();
});

// ------------------------------------------------------------------ messages

function onMessage(data) {
  try {
    if (typeof data === "string") onText(parseText(data));
    else onFrame(decodeFrame(data, hello));
  } catch (error) {
    traffic.error(error);
  }
}

function onText(message) {
  switch (message.type) {
    case "hello":
      onHello(message);
      break;
    case "system":
      for (const view of [status, sourcePanel, signIn, filters, health, playbackBar, impedance]) {
        view.systemEvent(message);
      }
      break;
    case "marker":
      tracePanel.marker(message);
      break;
    case QUALITY_TOPIC:
      quality.take(message, hello?.channels ?? [], hello?.session);
      break;
    case "error":
      traffic.error(new ProtocolError(message.code, message.message));
      break;
    default:
      break;
  }
  updateStatus();
}

function onHello(next) {
  connection.confirm();
  // eegd judges the signal quality when its signal_quality plugin runs: ask for its verdicts.
  if (next.topics?.includes(QUALITY_TOPIC)) connection.subscribeNow(QUALITY_TOPIC);
  status.helloReceived(next);
  sourcePanel.hello(next);
  health.setSession(next.session);
  const before = hello;
  hello = next;
  const newSession =
    !before ||
    before.session !== next.session ||
    before.sample_rate !== next.sample_rate ||
    before.channels.join("\n") !== next.channels.join("\n");
  if (newSession) {
    quality.reset();
    tracePanel.newSession(next);
    setData(body, "channels", next.channels.length);
    setData(body, "session", next.session);
    setData(body, "sampleRate", next.sample_rate);
  }
  if (newSession || spectrumChanged(before?.spectrum, next.spectrum)) brainWaves.reset(next);
  // Aux frames only where the session has accelerometer channels to show (accel.js).
  connection.want("aux", accelerometerOf(next) !== null);
  showSelection();
}

function spectrumChanged(before, after) {
  if (!before || !after) return before !== after;
  return (
    before.freqs.length !== after.freqs.length ||
    before.freqs[1] !== after.freqs[1] ||
    JSON.stringify(before.bands) !== JSON.stringify(after.bands)
  );
}

function onFrame(frame) {
  if (frame.topic === Topic.AUX) {
    brainWaves.addAux(frame);
    if (brainWaves.shown === "accel") frames.request();
    return;
  }
  if (frame.topic === Topic.FFT) {
    if (!paused) brainWaves.update(frame, tracePanel.selected);
    else brainWaves.latest = frame;
    frames.request();
    return;
  }
  if (!tracePanel.push(frame)) return;
  frames.at(tracePanel.dueMs(performance.now()));
  status.dataReceived(performance.now());
  if (statusLine.state !== "streaming") updateStatus();
}

// ------------------------------------------------------------------ status, selection, drawing

function updateStatus() {
  const { state, headline, now } = statusLine.update(hello?.session);
  traffic.show(body);
  quality.show(hello?.channels ?? [], tracePanel.selected, state, headline, now);
  tracePanel.showNote();
}

function select(channel) {
  tracePanel.select(channel);
  showSelection();
  if (!paused) brainWaves.select(channel);
}

function showSelection() {
  const names = hello?.channels ?? [];
  const c = tracePanel.selected;
  byId("spectrum-note").textContent = c === null ? "all channels" : names[c];
  setData(body, "selectedChannel", c === null ? null : names[c]);
  display.showChannel(c === null ? null : names[c], tracePanel.hidden.size);
  quality.show(names, c, statusLine.state, statusLine.headline);
}

/** One display frame; returns when the next is due (ms). */
function drawFrame(now) {
  try {
    brainWaves.draw(tracePanel.selected);
    return tracePanel.draw(now);
  } catch (error) {
    traffic.error(error);
    return now + 1000;
  }
}

// ------------------------------------------------------------------ controls and settings

function setPaused(next) {
  paused = next;
  tracePanel.setPaused(next);
  if (!next && brainWaves.latest) brainWaves.update(brainWaves.latest, tracePanel.selected);
}

function toggleFullscreen() {
  const request = document.fullscreenElement
    ? document.exitFullscreen()
    : document.documentElement.requestFullscreen();
  request.catch((error) => console.warn("eegd kiosk: full screen refused", error));
}

const settings = {
  window: (seconds) => tracePanel.setWindow(seconds),
  signal(signal) {
    tracePanel.setSignal(signal);
    showFilter(filters.state);
  },
  scaleMode: (mode) => tracePanel.scale.setMode(mode),
  maxHz: (maxHz) => brainWaves.configure("maxHz", maxHz),
  power: (power) => brainWaves.configure("power", power),
  bandUnit: (unit) => brainWaves.configure("bandUnit", unit),
  theme(name) {
    Object.assign(theme, THEMES[name]);
    body.dataset.theme = name;
    document.querySelector('meta[name="color-scheme"]').content = name;
    brainWaves.configure("theme", name);
    tracePanel.restyle();
  },
  hide() {
    if (tracePanel.hideSelected()) showSelection();
  },
  showAll() {
    tracePanel.showAll();
    showSelection();
  },
};

function onDisplayChange(key, value) {
  if (FILTER_KEYS.includes(key)) {
    filters.set(key, value);
    return;
  }
  settings[key](value);
  display.show(key, value);
}

function showFilter(state) {
  for (const key of FILTER_KEYS) display.show(key, state?.[key] ?? 0);
  display.showMessage(filters.error);
  const summary = byId("filter-summary");
  summary.textContent = tracePanel.signal === "raw" ? "raw, unfiltered" : filterSummary(state);
  summary.dataset.filter = JSON.stringify(state ?? null);
  body.dataset.filter = filterSummary(state);
}

/**
 * `action` ("Record") was refused with `message`: a refusal of the role opens the sign-in
 * form saying so (where tokens exist), any other shows on the footer's line. Never silent.
 */
async function refused(action, message, httpStatus) {
  const forRole = httpStatus === 401 || httpStatus === 403;
  if (forRole && (await signIn.refused(`${action} needs an operator: sign in`))) return;
  signIn.note(`${action} refused: ${message}`);
}

/** Play the file again from its start (PUT /api/playback): a new session. */
async function replay() {
  const button = byId("replay");
  button.disabled = true;
  try {
    await playbackBar.put("Replay", { position_s: 0 });
  } finally {
    button.disabled = false;
  }
}

function bindControls() {
  byId("pause").addEventListener("click", () => setPaused(!paused));
  byId("filter-summary").addEventListener("click", () => display.setOpen(true));
  byId("bands").addEventListener("click", () =>
    onDisplayChange("bandUnit", brainWaves.bands.unit === "share" ? "power" : "share"),
  );
  const fullscreen = byId("fullscreen");
  fullscreen.hidden = !document.fullscreenEnabled;
  fullscreen.addEventListener("click", toggleFullscreen);
  byId("replay").addEventListener("click", replay);
  // A tap, a key or a control changes what is drawn (scale, selection, settings): draw it at
  // the next frame; the spectrum's canvas redraws at its new size.
  for (const type of ["click", "keydown", "input", "change"]) {
    document.addEventListener(type, () => frames.request(), { capture: true });
  }
  new ResizeObserver(() => frames.request()).observe(byId("spectrum-canvas"));
  bindKeys(
    {
      pause: () => setPaused(!paused),
      scaleUp: () => tracePanel.stepScale(1),
      scaleDown: () => tracePanel.stepScale(-1),
      autoScale: () => tracePanel.scale.toggleAuto(),
      fullscreen: toggleFullscreen,
    },
    (key) => markerButtons.key(key),
  );
}

// ------------------------------------------------------------------ start

const defaults = {
  window: DEFAULT_WINDOW_S,
  signal: "filtered",
  scaleMode: "global",
  maxHz: 45,
  power: "log",
  bandUnit: "share",
  theme: "dark",
};
for (const [key, value] of Object.entries(defaults)) onDisplayChange(key, value);
brainWaves.choose("psd");
bindControls();
connection.start();
sourcePanel.start();
health.start();
signIn.refresh();
new RecordingPanel(byId("recording"), refused).start();
markerButtons.load();
playbackBar.start();
new SelfTestPanel(byId("selftest")).start();
setInterval(updateStatus, STATUS_EVERY_MS);
setInterval(() => tracePanel.chooseRates(), DISPLAY_RATE_EVERY_MS);
frames.request();
