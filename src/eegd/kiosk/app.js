// The kiosk's wiring: messages from eegd fill the buffers, a requestAnimationFrame loop draws
// them, and the page's state is mirrored into data- attributes that tests and people can read.

import { BrainWavesPanel } from "./brainwaves.js";
import { THEMES } from "./colors.js";
import { Connection } from "./connection.js";
import { nextMaxRate, wantedMaxRate } from "./decimation.js";
import { DisplayPanel, FILTER_KEYS } from "./display.js";
import { setData } from "./dom.js";
import { FilterSettings, summary as filterSummary } from "./filters.js";
import { HealthLine } from "./health.js";
import { LaneLabels } from "./lanelabels.js";
import { MarkerButtons } from "./markers.js";
import { PlaybackBar } from "./playback.js";
import { ProtocolError, Topic, decodeFrame, parseText } from "./protocol.js";
import { QualityMeter, noData } from "./quality.js";
import { RecordingPanel } from "./recording.js";
import { SelfTestPanel } from "./selftest.js";
import { SignInPanel } from "./signin.js";
import { SourcePanel, formatRate } from "./source.js";
import { StatusModel } from "./status.js";
import { DEFAULT_WINDOW_S, TraceView } from "./traces.js";
import { TraceScale } from "./tracescale.js";

const STATUS_EVERY_MS = 200;
const DISPLAY_RATE_EVERY_MS = 1000;
/** Raw pairs per second the signal-quality checks need at high rates (line noise up to 60 Hz). */
const QUALITY_RATE = 500;
/** Quality verdicts older than this (no raw data since) are no verdicts: the dots go grey. */
const QUALITY_STALE_MS = 2500;

const byId = (id) => document.getElementById(id);
const body = document.body;
const ui = {
  headline: byId("status-headline"),
  detail: byId("status-detail"),
  overlayHeadline: byId("overlay-headline"),
  overlayDetail: byId("overlay-detail"),
  laneLabels: byId("lane-labels"),
  spectrumNote: byId("spectrum-note"),
  scaleDown: byId("scale-down"),
  scaleUp: byId("scale-up"),
  scaleMode: byId("scale-mode"),
  scaleValue: byId("scale-value"),
  scaleLabel: byId("scale-label"),
  scaleBar: byId("scale-bar"),
  scaleBarLabel: byId("scale-bar-label"),
  pause: byId("pause"),
  pauseLabel: byId("pause-label"),
  fullscreen: byId("fullscreen"),
  pageNav: byId("page-nav"),
  pagePrev: byId("page-prev"),
  pageNext: byId("page-next"),
  pageLabel: byId("page-label"),
  pageNames: byId("page-names"),
  filterSummary: byId("filter-summary"),
  displayNote: byId("display-note"),
  channelInfo: byId("channel-info"),
  replay: byId("replay"),
};

const theme = { ...THEMES.dark };
const traces = new TraceView(byId("trace-strip"), byId("trace-grid"), theme);
const brainWaves = new BrainWavesPanel(byId, theme);
const status = new StatusModel(location.host);
const health = new HealthLine(byId("health"));
const traceScale = new TraceScale(ui);
const labels = new LaneLabels(ui, (c, relayout) => (relayout ? relayoutLanes() : select(c)));

const view = {
  hello: null,
  frames: 0,
  gaps: 0,
  errors: 0,
  lastFrameId: null,
  nextSample: null,
  lastSpan: null,
  maxRate: null,
  rawMaxRate: null,
  paused: false,
  markers: 0,
  selected: null,
  signal: "filtered",
  quality: null,
  lastRawMs: null,
};

// ------------------------------------------------------------------ messages

function onMessage(data) {
  try {
    if (typeof data === "string") onText(parseText(data));
    else onFrame(decodeFrame(data, view.hello));
  } catch (error) {
    countError(error);
  }
}

function countError(error) {
  view.errors += 1;
  const kind = error instanceof ProtocolError ? `protocol error (${error.code})` : "error";
  console.warn(`eegd kiosk: ${kind}; carrying on`, error);
}

function onText(message) {
  switch (message.type) {
    case "hello":
      onHello(message);
      break;
    case "system":
      status.systemEvent(message);
      sourcePanel.systemEvent(message);
      signIn.systemEvent(message);
      filters.systemEvent(message);
      health.systemEvent(message);
      playbackBar.systemEvent(message);
      onSourceFacts(message);
      break;
    case "marker":
      onMarker(message);
      break;
    case "error":
      countError(new ProtocolError(message.code, message.message));
      break;
    default:
      break;
  }
  updateStatus();
}

// A marker (anyone's, or a played file's annotation) of this session: a flag at its sample.
function onMarker(message) {
  if (!view.hello || message.session !== view.hello.session) return;
  if (!Number.isSafeInteger(message.sample) || typeof message.label !== "string") return;
  traces.addMarker(message.sample, message.label);
  view.markers += 1;
  body.dataset.markers = String(view.markers);
}

// lead_off names the electrodes the source reports off, for the signal-quality checks.
function onSourceFacts(message) {
  if (message.kind === "lead_off" && view.quality && view.hello) {
    const off = new Set(message.detail?.electrodes ?? []);
    view.quality.setLeadOff(view.hello.channels.flatMap((name, c) => (off.has(name) ? [c] : [])));
  }
}

/** Each channel's declared physical range in µV (GET /api/status → source), or null. */
function declaredRanges() {
  const source = health.status?.source;
  const ranges = source?.physical_range;
  if (source?.session !== view.hello?.session || !Array.isArray(ranges)) return null;
  return ranges.map(([low, high]) => [low * 1e6, high * 1e6]);
}

function onHello(hello) {
  connection.confirm();
  status.helloReceived(hello);
  sourcePanel.hello(hello);
  health.setSession(hello.session);
  const before = view.hello;
  view.hello = hello;
  const newSession =
    !before ||
    before.session !== hello.session ||
    before.sample_rate !== hello.sample_rate ||
    before.channels.join("\n") !== hello.channels.join("\n");
  if (newSession) {
    view.selected = null;
    view.quality = null;
    labels.reset(hello.channels);
    traceScale.reset(hello.channels.length);
    chooseDisplayRate();
    traces.clearMarkers();
    resetTraces();
    relayoutLanes();
    body.dataset.channels = String(hello.channels.length);
    body.dataset.session = hello.session;
    body.dataset.sampleRate = String(hello.sample_rate);
  }
  if (newSession || spectrumChanged(before?.spectrum, hello.spectrum)) {
    brainWaves.reset(hello);
  }
  showSelection();
}

function resetTraces() {
  const hello = view.hello;
  const rate = view.signal === "raw" ? view.rawMaxRate : view.maxRate;
  traces.reset(hello.channels.length, hello.sample_rate, rate ?? hello.sample_rate);
  view.lastFrameId = null;
  view.nextSample = null;
  view.lastSpan = null;
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
  if (frame.topic === Topic.FFT) {
    if (!view.paused) brainWaves.update(frame, view.selected);
    else brainWaves.latest = frame;
    return;
  }
  if (frame.topic === Topic.RAW_EEG) {
    measureQuality(frame);
    view.lastRawMs = performance.now();
  }
  const shown = view.signal === "raw" ? Topic.RAW_EEG : Topic.FILTERED_EEG;
  if (frame.topic !== shown) return;
  // A pair's rate is the sample rate over a whole number of samples per pair.
  const span = frame.decimated ? Math.round(view.hello.sample_rate / frame.sampleRate) || 1 : 1;
  countGaps(frame, span);
  view.frames += 1;
  traces.push(frame, span);
  showDecimation(frame);
  status.dataReceived(performance.now());
  if (shownState !== "streaming") updateStatus();
}

function measureQuality(frame) {
  const rate = frame.sampleRate;
  const ranges = declaredRanges();
  const meter = view.quality;
  if (!meter || meter.entryRate !== rate || meter.declared !== (ranges !== null)) {
    view.quality = new QualityMeter(frame.channelCount, rate, ranges);
  }
  view.quality.push(frame.samples, frame.sampleCount, frame.decimated);
}

// Lost data shows as a jump in first_sample. Frame ids are checked too for full-rate frames
// only: an envelope's frame_id is the last source frame it covers, and a source frame that
// completes no pair yields no envelope, so envelope ids may skip without any loss. When the
// stream's rate changes (the kiosk asked for another max_rate), eegd starts a new envelope at
// its next packet and drops the samples of an unfinished pair: a jump there is no loss.
function countGaps(frame, span) {
  const sameStream = view.lastSpan === span;
  view.lastSpan = span;
  const sampleJump = sameStream && view.nextSample !== null && frame.firstSample > view.nextSample;
  const idJump =
    !frame.decimated && view.lastFrameId !== null && frame.frameId > view.lastFrameId + 1;
  if (sampleJump || idJump) view.gaps += 1;
  view.lastFrameId = frame.frameId;
  view.nextSample = Math.max(view.nextSample ?? 0, frame.firstSample + frame.sampleCount * span);
}

// Asks eegd for the envelope rate the trace needs (decimation.js has the rule), and for the
// raw stream the signal-quality checks need; called on a new session and periodically, since
// the canvas may have been resized or the window changed.
function chooseDisplayRate() {
  if (!view.hello) return;
  const rate = view.hello.sample_rate;
  const wanted = wantedMaxRate(rate, traces.columnsPerSecond());
  const next = nextMaxRate(view.maxRate, wanted);
  const quality = rate > 2 * QUALITY_RATE ? QUALITY_RATE : null;
  const raw = view.signal === "raw" && next !== null ? Math.max(next, QUALITY_RATE) : quality;
  if (next !== view.maxRate) {
    view.maxRate = next;
    connection.setMaxRate("filtered_eeg", next);
    if (view.signal === "filtered") traces.setEntryRate(next ?? rate);
    if (next === null) delete body.dataset.maxRate;
    else body.dataset.maxRate = String(next);
  }
  if (raw !== view.rawMaxRate) {
    view.rawMaxRate = raw;
    connection.setMaxRate("raw_eeg", raw);
    if (view.signal === "raw") traces.setEntryRate(raw ?? rate);
  }
}

function showDecimation(frame) {
  setData(body, "decimated", frame.decimated);
  setData(body, "pairRate", frame.decimated ? frame.sampleRate : null);
}

// ------------------------------------------------------------------ status and attributes

let shownStatus = "";
let shownState = "";

function updateStatus() {
  const now = performance.now();
  if (health.finished(view.hello?.session)) status.systemEvent({ kind: "source_ended" });
  const { state, retryIn, headline, detail } = status.describe(now, health.degraded.acquisition());
  health.render(now);
  shownState = state;
  setData(body, "state", state);
  setData(body, "retryIn", retryIn === null ? null : retryIn.toFixed(1));
  setData(body, "frames", view.frames);
  setData(body, "errors", view.errors);
  setData(body, "gaps", view.gaps);
  const key = `${headline}\n${detail}`;
  if (key !== shownStatus) {
    shownStatus = key;
    ui.headline.textContent = headline;
    ui.detail.textContent = detail;
    ui.overlayHeadline.textContent = headline;
    ui.overlayDetail.textContent = detail;
  }
  if (ui.replay.hidden !== (state !== "ended")) ui.replay.hidden = state !== "ended";
  showQuality(state, headline, now);
  showDisplayNote();
}

function showDisplayNote() {
  const hello = view.hello;
  if (!hello) return;
  const pxPerS = Math.round(traces.columnsPerSecond() / (window.devicePixelRatio || 1));
  const how = body.dataset.decimated === "true" ? "envelope" : "every sample";
  const note = `${view.signal} · ${how}, ${formatRate(hello.sample_rate)} shown at ${pxPerS} px/s`;
  if (ui.displayNote.textContent !== note) {
    ui.displayNote.textContent = note;
    display.showNote(note);
  }
}

/**
 * The quality dots and the selected channel's verdict. A verdict is only as good as its
 * data: while the page streams no raw data (disconnected, source lost, end of file) every
 * channel says so, grey.
 */
function showQuality(state = body.dataset.state, headline = ui.headline.textContent, now = performance.now()) {
  const fresh = view.lastRawMs !== null && now - view.lastRawMs < QUALITY_STALE_MS;
  const silentS = view.lastRawMs === null ? 0 : Math.floor((now - view.lastRawMs) / 1000);
  const why = state !== "streaming" ? headline.toLowerCase() : `no raw data for ${silentS} s`;
  const verdicts =
    fresh && state === "streaming"
      ? view.quality?.verdicts ?? []
      : (view.hello?.channels ?? []).map(() => noData(why));
  labels.showQuality(verdicts);
  const names = view.hello?.channels ?? [];
  const c = view.selected;
  const info =
    c === null
      ? "tap a label: channel and signal quality"
      : `${names[c]} · ${verdicts[c]?.reason ?? "no raw data yet"}`;
  if (ui.channelInfo.textContent !== info) ui.channelInfo.textContent = info;
  setData(ui.channelInfo, "quality", c === null ? "" : (verdicts[c]?.level ?? "unknown"));
}

// ------------------------------------------------------------------ drawing

function drawFrame(now) {
  try {
    const scales = traceScale.scales(now, traces, labels.lanes);
    traceScale.show(view.selected ?? labels.lanes[0], labels.laneHeight());
    traces.draw(now, scales);
    brainWaves.draw(view.selected);
  } catch (error) {
    countError(error);
  }
  requestAnimationFrame(drawFrame);
}

// ------------------------------------------------------------------ lanes and pages

function relayoutLanes() {
  traces.setLanes(labels.layout(theme.name));
}

function select(channel) {
  view.selected = channel;
  showSelection();
  if (!view.paused) brainWaves.select(view.selected);
}

function showSelection() {
  const names = view.hello?.channels ?? [];
  labels.select(view.selected);
  ui.spectrumNote.textContent = view.selected === null ? "all channels" : names[view.selected];
  if (view.selected === null) delete body.dataset.selectedChannel;
  else body.dataset.selectedChannel = names[view.selected];
  display.showChannel(view.selected === null ? null : names[view.selected], labels.hidden.size);
  showQuality();
}

// ------------------------------------------------------------------ controls

function stepScale(direction) {
  traceScale.step(direction);
  display.show("scaleMode", "global");
}

function setPaused(paused) {
  view.paused = paused;
  traces.setPaused(paused);
  body.dataset.paused = String(paused);
  ui.pause.setAttribute("aria-pressed", String(paused));
  ui.pauseLabel.textContent = paused ? "Resume" : "Pause";
  if (!paused && brainWaves.latest) brainWaves.update(brainWaves.latest, view.selected);
}

function toggleFullscreen() {
  const request = document.fullscreenElement
    ? document.exitFullscreen()
    : document.documentElement.requestFullscreen();
  request.catch((error) => console.warn("eegd kiosk: full screen refused", error));
}

const settings = {
  window(seconds) {
    traces.setWindow(seconds);
    body.dataset.windowS = String(seconds);
    chooseDisplayRate();
  },
  signal(signal) {
    view.signal = signal;
    body.dataset.signal = signal;
    chooseDisplayRate();
    if (view.hello) resetTraces();
    showFilter(filters.state);
  },
  scaleMode(mode) {
    traceScale.setMode(mode);
  },
  maxHz(maxHz) {
    brainWaves.configure("maxHz", maxHz);
  },
  power(power) {
    brainWaves.configure("power", power);
  },
  bandUnit(unit) {
    brainWaves.configure("bandUnit", unit);
  },
  theme(name) {
    Object.assign(theme, THEMES[name]);
    body.dataset.theme = name;
    document.querySelector('meta[name="color-scheme"]').content = name;
    brainWaves.configure("theme", name);
    traces.invalidate();
    relayoutLanes();
  },
  hide() {
    if (view.selected === null) return;
    labels.hidden.add(view.selected);
    view.selected = null;
    relayoutLanes();
    showSelection();
  },
  showAll() {
    labels.hidden.clear();
    relayoutLanes();
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
  const text = view.signal === "raw" ? "raw, unfiltered" : filterSummary(state);
  ui.filterSummary.textContent = text;
  ui.filterSummary.dataset.filter = JSON.stringify(state ?? null);
  body.dataset.filter = filterSummary(state);
}

function bindControls() {
  ui.scaleDown.addEventListener("click", () => stepScale(-1));
  ui.scaleUp.addEventListener("click", () => stepScale(1));
  ui.scaleMode.addEventListener("click", () => traceScale.toggleAuto());
  ui.pause.addEventListener("click", () => setPaused(!view.paused));
  ui.filterSummary.addEventListener("click", () => display.setOpen(true));
  byId("bands").addEventListener("click", () =>
    onDisplayChange("bandUnit", brainWaves.bands.unit === "share" ? "power" : "share"),
  );
  new ResizeObserver(relayoutLanes).observe(ui.laneLabels);
  ui.fullscreen.hidden = !document.fullscreenEnabled;
  ui.fullscreen.addEventListener("click", toggleFullscreen);
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLButtonElement && event.key === " ") return;
    const actions = {
      " ": () => setPaused(!view.paused),
      p: () => setPaused(!view.paused),
      "+": () => stepScale(1),
      "=": () => stepScale(1),
      "-": () => stepScale(-1),
      a: () => traceScale.toggleAuto(),
      f: toggleFullscreen,
    };
    if (event.ctrlKey || event.metaKey || event.altKey || event.target instanceof HTMLInputElement) {
      return;
    }
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    } else if (markerButtons.key(event.key)) {
      event.preventDefault();
    }
  });
}

// ------------------------------------------------------------------ start

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const connection = new Connection(wsUrl, ["filtered_eeg", "raw_eeg", "fft", "marker"], {
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
  ui.replay.disabled = true;
  try {
    await playbackBar.put("Replay", { position_s: 0 });
  } finally {
    ui.replay.disabled = false;
  }
}

const display = new DisplayPanel(byId("display-open"), onDisplayChange);
const filters = new FilterSettings(showFilter, refused);
const sourcePanel = new SourcePanel(byId("source-settings"));
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
const signIn = new SignInPanel();
signIn.refresh();
new RecordingPanel(byId("recording"), refused).start();
const markerButtons = new MarkerButtons(byId("markers"), refused);
markerButtons.load();
const playbackBar = new PlaybackBar(byId("playback"), refused, (state) => {
  status.setPlayback(state);
  updateStatus();
});
playbackBar.start();
new SelfTestPanel(byId("selftest")).start();
ui.replay.addEventListener("click", replay);
setInterval(updateStatus, STATUS_EVERY_MS);
setInterval(chooseDisplayRate, DISPLAY_RATE_EVERY_MS);
requestAnimationFrame(drawFrame);
