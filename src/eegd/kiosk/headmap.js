// The head map: one band's power over the scalp seen from above (nose up), interpolated
// between the electrodes with 10-20 names (inverse-distance weighting, Shepard's method, on
// a coarse grid that the browser scales up smoothly), with a colour scale in µV² beside it.
// The band is chosen with the buttons above it. Electrode names are drawn with a halo, at a
// size that keeps them apart. Redrawn when a spectrum arrives, only while shown.
// State for tests on the canvas: data-band, data-colorbar ("low..high µV²"), data-electrodes
// (JSON: name and position in CSS pixels), data-labels (JSON: each name's box), data-font.

import { SharpCanvas } from "./canvas.js";
import { BAND_SYMBOLS, bandColor, heat, heatRgb } from "./colors.js";
import { headPosition } from "./montage.js";
import { SMOOTHING, niceStep } from "./spectrum.js";

/** Grid cells across the head; the browser smooths them up to the canvas. */
const GRID = 48;
/** Inverse-distance weights fall as distance^-POWER. */
const POWER = 2;
const LABEL_FONT_PX = [12, 11, 10];
const COLORBAR = { width: 12, gap: 10, labels: 44 };

/**
 * Each grid cell's value from the electrodes' (`points`: [x, y] in the unit disc), over the
 * square around the disc (the head's outline clips it; cells past it keep the edge smooth).
 */
export function interpolate(points, values, grid = GRID) {
  const out = new Float64Array(grid * grid);
  for (let row = 0; row < grid; row += 1) {
    const y = 1 - (2 * (row + 0.5)) / grid;
    for (let col = 0; col < grid; col += 1) {
      const x = (2 * (col + 0.5)) / grid - 1;
      let weights = 0;
      let sum = 0;
      let exact = null;
      for (let i = 0; i < points.length && exact === null; i += 1) {
        const d2 = (x - points[i][0]) ** 2 + (y - points[i][1]) ** 2;
        if (d2 < 1e-12) exact = values[i];
        const weight = 1 / d2 ** (POWER / 2);
        weights += weight;
        sum += weight * values[i];
      }
      out[row * grid + col] = exact ?? sum / weights;
    }
  }
  return out;
}

export class HeadMap {
  constructor(canvas, selector, onChoose) {
    this.canvas = new SharpCanvas(canvas);
    this.selector = selector;
    this.band = "alpha";
    this.values = null;
    this.frame = null;
    this.known = [];
    this.bands = [];
    this.grid = document.createElement("canvas");
    this.grid.width = GRID;
    this.grid.height = GRID;
    selector.addEventListener("click", (event) => {
      const band = event.target.closest("button")?.dataset.band;
      if (!band) return;
      this.choose(band);
      onChoose();
    });
  }

  reset(names, bands) {
    this.names = names;
    this.bands = bands;
    this.values = null;
    this.frame = null;
    this.known = names.map((name, c) => [c, headPosition(name)]).filter(([, p]) => p);
    if (!bands.some(([name]) => name === this.band) && bands.length) this.band = bands[0][0];
    const buttons = bands.map(([name, low, high]) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.band = name;
      button.title = `${name}, ${low}–${high} Hz`;
      button.textContent = BAND_SYMBOLS[name] ?? name;
      button.style.setProperty("--band-color", bandColor(name));
      return button;
    });
    this.selector.replaceChildren(...buttons);
    this.choose(this.band);
  }

  choose(band) {
    this.band = band;
    this.values = null;
    if (this.frame) this.add(this.frame);
    for (const button of this.selector.children) {
      button.setAttribute("aria-pressed", String(button.dataset.band === band));
    }
    this.canvas.element.dataset.band = band;
  }

  /** Take an fft frame: the chosen band's power per electrode, smoothed like the bars. */
  add(frame) {
    this.frame = frame;
    const b = this.bands.findIndex(([name]) => name === this.band);
    if (b < 0) return;
    const bands = frame.bandCount;
    const fresh = this.known.map(([c]) => frame.bandPower[c * bands + b]);
    if (!this.values || this.values.length !== fresh.length) this.values = fresh;
    else this.values = this.values.map((v, i) => v + SMOOTHING * (fresh[i] - v));
  }

  draw(theme) {
    const ctx = this.canvas.begin();
    const { width, height } = this.canvas;
    // Just shown: its size is known once the ResizeObserver has seen it, a frame later.
    if (width === 0 || height === 0) return;
    const element = this.canvas.element;
    const room = width - COLORBAR.width - COLORBAR.gap - COLORBAR.labels;
    const radius = Math.max(10, Math.min(room, height - 40) / 2);
    const cx = radius + 4;
    const cy = height / 2 + 8;
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillStyle = theme.axisText;
    if (this.known.length < 3) {
      outline(ctx, cx, cy, radius, theme);
      ctx.fillText("no 10-20 channel names", cx, cy);
      return;
    }
    const band = this.bands.find(([name]) => name === this.band);
    if (band) {
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(`${band[0]} power, ${band[1]}–${band[2]} Hz`, 2, 2);
    }
    const points = this.known.map(([, [x, y]]) => [x, y]);
    const at = ([x, y]) => [cx + x * radius, cy - y * radius];
    if (this.values) {
      const low = Math.min(...this.values);
      const high = Math.max(...this.values);
      const span = high - low || 1;
      this.paint(ctx, interpolate(points, this.values), low, span, cx, cy, radius);
      const bar = colorBar(ctx, cx + radius + COLORBAR.gap + 4, cy - radius, 2 * radius, low, high, theme);
      element.dataset.colorbar = bar;
    } else {
      delete element.dataset.colorbar;
    }
    outline(ctx, cx, cy, radius, theme);
    this.label(ctx, points.map(at), theme);
  }

  /** The interpolated grid, scaled up smoothly and clipped to the head. */
  paint(ctx, cells, low, span, cx, cy, radius) {
    const g = this.grid.getContext("2d");
    const image = g.createImageData(GRID, GRID);
    for (let i = 0; i < cells.length; i += 1) {
      image.data.set([...heatRgb((cells[i] - low) / span), 255], 4 * i);
    }
    g.putImageData(image, 0, 0);
    ctx.save();
    ctx.beginPath();
    ctx.arc(cx, cy, radius, 0, 2 * Math.PI);
    ctx.clip();
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.grid, cx - radius, cy - radius, 2 * radius, 2 * radius);
    ctx.restore();
  }

  /** Each electrode's name at its place, at the largest size that keeps them apart. */
  label(ctx, places, theme) {
    const names = this.known.map(([c]) => this.names[c]);
    let boxes = [];
    let font = LABEL_FONT_PX[LABEL_FONT_PX.length - 1];
    for (const size of LABEL_FONT_PX) {
      ctx.font = `600 ${size}px system-ui, sans-serif`;
      boxes = names.map((name, i) => {
        const w = ctx.measureText(name).width + 2;
        return { name, x: places[i][0] - w / 2, y: places[i][1] - size / 2 - 1, w, h: size + 2 };
      });
      font = size;
      if (!overlapping(boxes)) break;
    }
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = theme.name === "light" ? "#ffffff" : "#000000";
    ctx.fillStyle = theme.name === "light" ? "#000000" : "#ffffff";
    names.forEach((name, i) => {
      ctx.strokeText(name, places[i][0], places[i][1]);
      ctx.fillText(name, places[i][0], places[i][1]);
    });
    const data = this.canvas.element.dataset;
    data.font = String(font);
    data.electrodes = JSON.stringify(names.map((name, i) => ({ name, x: places[i][0], y: places[i][1] })));
    data.labels = JSON.stringify(boxes);
  }
}

function outline(ctx, cx, cy, radius, theme) {
  ctx.strokeStyle = theme.axisText;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(cx, cy, radius, 0, 2 * Math.PI);
  ctx.moveTo(cx - 9, cy - radius + 1);
  ctx.lineTo(cx, cy - radius - 9);
  ctx.lineTo(cx + 9, cy - radius + 1);
  ctx.stroke();
}

/** The colour scale from `low` (bottom) to `high` (top) µV² at x, y; returns "low..high µV²". */
function colorBar(ctx, x, y, height, low, high, theme) {
  const steps = 32;
  for (let i = 0; i < steps; i += 1) {
    ctx.fillStyle = heat((i + 0.5) / steps);
    ctx.fillRect(x, y + height * (1 - (i + 1) / steps), COLORBAR.width, height / steps + 0.5);
  }
  const digits = Math.max(0, -Math.floor(Math.log10(niceStep(high - low || high || 1))));
  const [lowText, highText] = [low, high].map((v) => v.toFixed(Math.min(digits, 3)));
  ctx.fillStyle = theme.axisText;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(highText, x + COLORBAR.width + 4, y);
  ctx.textBaseline = "bottom";
  ctx.fillText(lowText, x + COLORBAR.width + 4, y + height);
  ctx.textBaseline = "middle";
  ctx.fillText("µV²", x + COLORBAR.width + 4, y + height / 2);
  return `${lowText}..${highText} µV²`;
}

function overlapping(boxes) {
  for (let i = 0; i < boxes.length; i += 1) {
    for (let j = i + 1; j < boxes.length; j += 1) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) return true;
    }
  }
  return false;
}
