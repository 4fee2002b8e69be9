// The kiosk's wiring: messages from eegd fill the buffers, a requestAnimationFrame loop draws
// them, and the page's state is mirrored into data- attributes that tests and people can read.

import { BandBars } from "./bands.js";
import { channelColor } from "./colors.js";
import { Connection } from "./connection.js";
import { nextMaxRate, wantedMaxRate } from "./decimation.js";
import { ProtocolError, Topic, decodeFrame, parseText } from "./protocol.js";
import { RecordingPanel } from "./recording.js";
import { AutoScale, FIXED_STEPS_UV, robustAmplitude } from "./scale.js";
import { SelfTestPanel } from "./selftest.js";
import { SignInPanel } from "./signin.js";
import { SourcePanel } from "./source.js";
import { SpectrumView, formatHz } from "./spectrum.js";
import { StatusModel } from "./status.js";
import { TraceView, WINDOW_S } from "./traces.js";

const AUTO_SCALE_EVERY_MS = 500;
const STATUS_EVERY_MS = 200;
const DISPLAY_RATE_EVERY_MS = 1000;

const byId = (id) => document.getElementById(id);
const body = document.body;
const ui = {
  headline: byId("status-headline"),
  detail: byId("status-detail"),
  overlayHeadline: byId("overlay-headline"),
  overlayDetail: byId("overlay-detail"),
  counters: byId("counters"),
  laneLabels: byId("lane-labels"),
  spectrumPanel: byId("spectrum"),
  spectrumNote: byId("spectrum-note"),
  peak: byId("peak-readout"),
  scaleDown: byId("scale-down"),
  scaleUp: byId("scale-up"),
  scaleMode: byId("scale-mode"),
  scaleValue: byId("scale-value"),
  scaleLabel: byId("scale-label"),
  pause: byId("pause"),
  pauseLabel: byId("pause-label"),
  fullscreen: byId("fullscreen"),
};

const traces = new TraceView(byId("trace-canvas"));
const spectrum = new SpectrumView(byId("spectrum-canvas"));
const bands = new BandBars(byId("bands"));
const status = new StatusModel(location.host);
const autoScale = new AutoScale();

const view = {
  hello: null,
  frames: 0,
  gaps: 0,
  errors: 0,
  lastFrameId: null,
  nextSample: null,
  lastSpan: null,
  maxRate: null,
  paused: false,
  auto: true,
  fixedUv: 50,
  selected: null,
  latestFft: null,
  autoCheckedMs: 0,
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
      console.info("eegd system event", message.kind, message.detail);
      status.systemEvent(message, performance.now());
      sourcePanel.systemEvent(message);
      signIn.systemEvent(message);
      break;
    case "error":
      countError(new ProtocolError(message.code, message.message));
      break;
    default:
      break;
  }
  updateStatus();
}

function onHello(hello) {
  connection.confirm();
  status.helloReceived(hello);
  sourcePanel.hello(hello);
  const before = view.hello;
  view.hello = hello;
  const newSession =
    !before ||
    before.session !== hello.session ||
    before.sample_rate !== hello.sample_rate ||
    before.channels.join("\n") !== hello.channels.join("\n");
  if (newSession) {
    chooseDisplayRate();
    traces.reset(hello.channels.length, hello.sample_rate, view.maxRate ?? hello.sample_rate);
    view.lastFrameId = null;
    view.nextSample = null;
    view.lastSpan = null;
    view.selected = null;
    buildLaneLabels(hello.channels);
    body.dataset.channels = String(hello.channels.length);
    body.dataset.session = hello.session;
    body.dataset.sampleRate = String(hello.sample_rate);
  }
  if (newSession || spectrumChanged(before?.spectrum, hello.spectrum)) {
    spectrum.reset(hello.spectrum);
    bands.reset(hello.spectrum?.bands ?? []);
    view.latestFft = null;
    delete ui.spectrumPanel.dataset.peakHz;
    ui.peak.textContent = "";
  }
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
  if (frame.topic === Topic.FFT) {
    view.latestFft = frame;
    if (!view.paused) showSpectrum(frame);
    return;
  }
  if (frame.topic !== Topic.FILTERED_EEG) return;
  // A pair's rate is the sample rate over a whole number of samples per pair.
  const span = frame.decimated ? Math.round(view.hello.sample_rate / frame.sampleRate) || 1 : 1;
  countGaps(frame, span);
  view.frames += 1;
  traces.push(frame, span);
  showDecimation(frame);
  const wasStreaming = body.dataset.state === "streaming";
  status.dataReceived(performance.now());
  if (!wasStreaming) updateStatus();
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

// Asks eegd for the envelope rate the trace needs (decimation.js has the rule); called on a
// new session and periodically, since the canvas may have been resized.
function chooseDisplayRate() {
  if (!view.hello) return;
  const wanted = wantedMaxRate(view.hello.sample_rate, traces.columnsPerSecond());
  const next = nextMaxRate(view.maxRate, wanted);
  if (next === view.maxRate) return;
  view.maxRate = next;
  connection.setMaxRate("filtered_eeg", next);
  traces.setEntryRate(next ?? view.hello.sample_rate);
  if (next === null) delete body.dataset.maxRate;
  else body.dataset.maxRate = String(next);
}

function showDecimation(frame) {
  const decimated = String(frame.decimated);
  if (body.dataset.decimated !== decimated) body.dataset.decimated = decimated;
  if (!frame.decimated) delete body.dataset.pairRate;
  else if (body.dataset.pairRate !== String(frame.sampleRate)) {
    body.dataset.pairRate = String(frame.sampleRate);
  }
}

function showSpectrum(frame) {
  const peakHz = spectrum.update(frame);
  bands.update(frame, view.selected);
  if (peakHz === null) return;
  ui.spectrumPanel.dataset.peakHz = String(peakHz);
  ui.peak.textContent = `peak ${formatHz(peakHz)} Hz`;
}

// ------------------------------------------------------------------ status and attributes

let shownStatus = "";

function updateStatus() {
  const now = performance.now();
  const { state, retryIn, headline, detail } = status.describe(now);
  body.dataset.state = state;
  if (retryIn === null) delete body.dataset.retryIn;
  else body.dataset.retryIn = retryIn.toFixed(1);
  body.dataset.frames = String(view.frames);
  body.dataset.errors = String(view.errors);
  body.dataset.gaps = String(view.gaps);
  const key = `${headline}\n${detail}`;
  if (key !== shownStatus) {
    shownStatus = key;
    ui.headline.textContent = headline;
    ui.detail.textContent = detail;
    ui.overlayHeadline.textContent = headline;
    ui.overlayDetail.textContent = detail;
  }
  const errors = view.errors ? ` · ${view.errors} errors` : "";
  const counters = `${view.frames} frames · ${view.gaps} gaps${errors}`;
  if (ui.counters.textContent !== counters) {
    ui.counters.textContent = counters;
    ui.counters.toggleAttribute("data-errors", view.errors > 0);
  }
}

// ------------------------------------------------------------------ drawing

function currentScaleUv(now) {
  if (!view.auto) return view.fixedUv;
  if (now - view.autoCheckedMs >= AUTO_SCALE_EVERY_MS) {
    view.autoCheckedMs = now;
    const { ring, playhead } = traces.visible();
    if (ring && playhead !== null) {
      autoScale.update(robustAmplitude(ring, playhead - WINDOW_S * traces.rate, playhead));
    }
  }
  return autoScale.step;
}

function drawFrame(now) {
  try {
    const scaleUv = currentScaleUv(now);
    showScale(scaleUv);
    traces.draw(now, scaleUv);
    spectrum.draw(view.selected);
  } catch (error) {
    countError(error);
  }
  requestAnimationFrame(drawFrame);
}

// ------------------------------------------------------------------ controls

function buildLaneLabels(channels) {
  ui.laneLabels.replaceChildren(
    ...channels.map((name, c) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = name;
      button.title = `Show ${name} alone in the brain-waves panel`;
      button.dataset.channel = name;
      button.style.setProperty("--channel-color", channelColor(c));
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => select(view.selected === c ? null : c));
      return button;
    }),
  );
}

function select(channel) {
  view.selected = channel;
  showSelection();
  if (view.latestFft && !view.paused) bands.update(view.latestFft, view.selected);
}

function showSelection() {
  const names = view.hello?.channels ?? [];
  [...ui.laneLabels.children].forEach((button, c) => {
    button.setAttribute("aria-pressed", String(c === view.selected));
  });
  ui.spectrumNote.textContent = view.selected === null ? "all channels" : names[view.selected];
  if (view.selected === null) delete body.dataset.selectedChannel;
  else body.dataset.selectedChannel = names[view.selected];
}

let shownScale = "";

function showScale(scaleUv) {
  const key = `${view.auto}:${scaleUv}`;
  if (key === shownScale) return;
  shownScale = key;
  ui.scaleValue.textContent = `±${scaleUv} µV`;
  ui.scaleLabel.textContent = view.auto ? "auto" : "fixed";
  ui.scaleMode.setAttribute("aria-pressed", String(view.auto));
  ui.scaleMode.title = view.auto ? "Automatic scale" : "Tap for automatic scale";
  body.dataset.scaleUv = String(scaleUv);
  body.dataset.scaleMode = view.auto ? "auto" : "fixed";
}

function stepScale(direction) {
  const current = view.auto ? autoScale.step : view.fixedUv;
  const steps = FIXED_STEPS_UV;
  const next =
    direction > 0
      ? (steps.find((step) => step > current) ?? steps[steps.length - 1])
      : (steps.findLast((step) => step < current) ?? steps[0]);
  view.auto = false;
  view.fixedUv = next;
}

function toggleAuto() {
  view.auto = !view.auto;
  if (!view.auto) view.fixedUv = nearestFixed(autoScale.step);
}

function nearestFixed(uv) {
  return FIXED_STEPS_UV.reduce((best, step) =>
    Math.abs(Math.log(step / uv)) < Math.abs(Math.log(best / uv)) ? step : best,
  );
}

function setPaused(paused) {
  view.paused = paused;
  traces.setPaused(paused);
  body.dataset.paused = String(paused);
  ui.pause.setAttribute("aria-pressed", String(paused));
  ui.pauseLabel.textContent = paused ? "Resume" : "Pause";
  if (!paused && view.latestFft) showSpectrum(view.latestFft);
}

function toggleFullscreen() {
  const request = document.fullscreenElement
    ? document.exitFullscreen()
    : document.documentElement.requestFullscreen();
  request.catch((error) => console.warn("eegd kiosk: full screen refused", error));
}

function bindControls() {
  ui.scaleDown.addEventListener("click", () => stepScale(-1));
  ui.scaleUp.addEventListener("click", () => stepScale(1));
  ui.scaleMode.addEventListener("click", toggleAuto);
  ui.pause.addEventListener("click", () => setPaused(!view.paused));
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
      a: toggleAuto,
      f: toggleFullscreen,
    };
    const action = actions[event.key];
    if (action && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      action();
    }
  });
}

// ------------------------------------------------------------------ start

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const connection = new Connection(wsUrl, ["filtered_eeg", "fft"], {
  connecting(attempt) {
    status.connecting(attempt);
    updateStatus();
  },
  open() {
    status.opened();
    updateStatus();
  },
  message: onMessage,
  closed(retryAtMs, reason) {
    status.closed(retryAtMs, reason);
    updateStatus();
  },
});

const sourcePanel = new SourcePanel(byId("source-settings"));
bindControls();
connection.start();
sourcePanel.start();
new RecordingPanel(byId("recording")).start();
new SelfTestPanel(byId("selftest")).start();
const signIn = new SignInPanel(document.querySelector(".controls"));
signIn.refresh();
setInterval(updateStatus, STATUS_EVERY_MS);
setInterval(chooseDisplayRate, DISPLAY_RATE_EVERY_MS);
requestAnimationFrame(drawFrame);
