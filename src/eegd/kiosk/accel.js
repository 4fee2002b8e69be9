// The accelerometer view of the brain-waves panel: the aux stream's accelerometer channels
// (hello.aux, docs/protocol.md section 2.6) as traces over the last WINDOW_S seconds on one
// axis in their unit, with each channel's latest value beside its name, as OpenBCI's GUI
// shows them. Only a session whose aux stream has accelerometer channels offers the view.
// It is drawn at the next display frame after new samples, and only while shown.
// State for tests on #accel-canvas: data-channels, data-units, data-samples (aux samples
// received), data-latest (JSON: the newest aux sample's index and its values).

import { SharpCanvas } from "./canvas.js";
import { channelColor } from "./colors.js";
import { niceStep } from "./spectrum.js";

export const WINDOW_S = 10;
export const ACCELEROMETER = "accelerometer";
const MARGIN = { left: 40, right: 10, top: 28, bottom: 22 };
/** The axis never spans less than ± this many units (a board lying still reads about 0 or 1). */
const MIN_SPAN = 0.5;

/** The accelerometer channels of a hello's aux stream: `{indices, names, units, rate}`, or null. */
export function accelerometerOf(hello) {
  const aux = hello?.aux;
  if (!aux || !Array.isArray(aux.kinds) || !(aux.sample_rate > 0)) return null;
  const indices = aux.kinds.flatMap((kind, i) => (kind === ACCELEROMETER ? [i] : []));
  if (!indices.length) return null;
  return {
    indices,
    names: indices.map((i) => aux.channels[i]),
    units: indices.map((i) => aux.units[i] ?? ""),
    rate: aux.sample_rate,
  };
}

export class AccelView {
  constructor(canvas) {
    this.canvas = new SharpCanvas(canvas);
    this.element = canvas;
    this.reset(null);
  }

  /** A new session (`hello`); returns whether it has accelerometer channels. */
  reset(hello) {
    this.accel = accelerometerOf(hello);
    const length = this.accel ? Math.ceil(this.accel.rate * WINDOW_S) : 0;
    this.values = this.accel ? this.accel.indices.map(() => new Float32Array(length)) : [];
    this.length = length;
    this.count = 0; // samples stored so far (the ring holds the last `length`)
    this.newest = -1; // the aux stream's index of the newest sample
    this.changed = true;
    const data = this.element.dataset;
    data.channels = this.accel ? this.accel.names.join(",") : "";
    data.units = this.accel ? this.accel.units.join(",") : "";
    data.samples = "0";
    delete data.latest;
    return this.accel !== null;
  }

  /** Store an aux frame (`values`: the aux stream's channels × samples, channel-major). */
  add(frame) {
    const accel = this.accel;
    if (!accel || !this.length) return;
    const n = frame.sampleCount;
    for (let s = 0; s < n; s += 1) {
      const at = (this.count + s) % this.length;
      accel.indices.forEach((channel, k) => {
        this.values[k][at] = frame.values[channel * n + s];
      });
    }
    this.count += n;
    this.newest = frame.firstSample + n - 1;
    this.changed = true;
  }

  /** The latest value of accelerometer channel `k`, or null before any sample. */
  latest(k) {
    return this.count ? this.values[k][(this.count - 1) % this.length] : null;
  }

  /** Draw if new samples came or the canvas was resized. */
  draw(theme) {
    if (!this.changed && !this.canvas.dirty) return;
    this.changed = false;
    const accel = this.accel;
    const ctx = this.canvas.begin();
    if (!accel) return;
    const plot = {
      left: MARGIN.left,
      top: MARGIN.top,
      width: Math.max(1, this.canvas.width - MARGIN.left - MARGIN.right),
      height: Math.max(1, this.canvas.height - MARGIN.top - MARGIN.bottom),
    };
    const shown = Math.min(this.count, this.length);
    let top = MIN_SPAN;
    for (const channel of this.values) {
      for (let i = 0; i < shown; i += 1) top = Math.max(top, Math.abs(channel[i]));
    }
    const step = niceStep(top, 2);
    const span = Math.ceil(top / step) * step;
    const y = (value) => plot.top + (0.5 - value / (2 * span)) * plot.height;
    drawAxes(ctx, plot, theme, span, step, y, unitOf(accel.units));
    const x = (age) => plot.left + plot.width * (1 - age / (this.length - 1 || 1));
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.left, plot.top, plot.width, plot.height);
    ctx.clip();
    ctx.lineWidth = 1.5;
    this.values.forEach((channel, k) => {
      ctx.beginPath();
      for (let age = shown - 1; age >= 0; age -= 1) {
        const value = channel[(this.count - 1 - age) % this.length];
        if (age === shown - 1) ctx.moveTo(x(age), y(value));
        else ctx.lineTo(x(age), y(value));
      }
      ctx.strokeStyle = channelColor(k, theme.name);
      ctx.stroke();
    });
    ctx.restore();
    drawLegend(ctx, plot, theme, accel, (k) => this.latest(k));
    const data = this.element.dataset;
    data.samples = String(this.count);
    data.latest = JSON.stringify({
      sample: this.newest,
      values: accel.indices.map((_, k) => this.latest(k)),
    });
  }
}

/** The unit the axis is in: the channels' common unit (they share one on every board). */
function unitOf(units) {
  return units.every((unit) => unit === units[0]) ? units[0] : units.join("/");
}

function drawAxes(ctx, plot, theme, span, step, y, unit) {
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.lineWidth = 1;
  for (let value = -span; value <= span + step / 2; value += step) {
    const at = Math.round(y(value)) + 0.5;
    ctx.strokeStyle = value === 0 ? theme.axisLine : theme.gridLine;
    ctx.beginPath();
    ctx.moveTo(plot.left, at);
    ctx.lineTo(plot.left + plot.width, at);
    ctx.stroke();
    ctx.fillStyle = theme.axisText;
    ctx.fillText(formatValue(value), plot.left - 4, at);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(`${unit} · last ${WINDOW_S} s`, plot.left + plot.width / 2, plot.top + plot.height + 4);
}

/** Each channel's name and latest value with its unit, in its trace's colour, above the plot. */
function drawLegend(ctx, plot, theme, accel, latest) {
  ctx.font = "600 12px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const width = plot.width / accel.names.length;
  accel.names.forEach((name, k) => {
    const value = latest(k);
    const text = value === null ? name : `${name} ${formatValue(value)} ${accel.units[k]}`;
    ctx.fillStyle = channelColor(k, theme.name);
    ctx.fillText(text, plot.left + k * width, plot.top / 2, width - 4);
  });
}

function formatValue(value) {
  const rounded = Math.abs(value) < 1e-9 ? 0 : value;
  return Math.abs(rounded) >= 10 ? rounded.toFixed(0) : rounded.toFixed(2);
}
