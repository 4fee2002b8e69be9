// The canvases of the traces panel (traces.js draws on them): the strip's tiles, each
// TILE_COLUMNS device-pixel columns of the trace, and the grid with its time axis underneath.

/** Device-pixel columns per tile: small tiles keep what the compositor re-uploads small. */
export const TILE_COLUMNS = 128;

/** One canvas of the strip: TILE_COLUMNS device columns of global tile number `number`. */
export class Tile {
  constructor(rail) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "trace-tile";
    this.context = this.canvas.getContext("2d");
    this.number = null;
    rail.append(this.canvas);
  }

  size(height, ratio) {
    if (this.canvas.width !== TILE_COLUMNS || this.canvas.height !== height) {
      this.canvas.width = TILE_COLUMNS;
      this.canvas.height = height;
    }
    this.canvas.style.width = `${TILE_COLUMNS / ratio}px`;
    this.canvas.style.height = `${height / ratio}px`;
    this.number = null;
  }

  /** Forget what the tile shows; it will hold global tile `number` (or nothing, hidden). */
  clear(number) {
    this.context.setTransform(1, 0, 0, 1, 0, 0);
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.number = number;
    this.canvas.hidden = number === null;
  }

  /** Put the tile's left edge `leftPx` CSS pixels from the rail's origin. */
  moveTo(leftPx) {
    this.canvas.style.transform = `translateX(${leftPx}px)`;
  }

  remove() {
    this.canvas.remove();
  }
}

/** Per column from `first` to `last`: the [from, end) entries that start in it. */
export function columnEntries(ring, first, last, perColumn) {
  const bounds = [];
  let k = ring.search(first * perColumn);
  for (let column = first; column <= last; column += 1) {
    const columnEnd = (column + 1) * perColumn;
    const from = k;
    while (k < ring.count && ring.start(k) < columnEnd) k += 1;
    bounds.push([from, k]);
  }
  return bounds;
}

export function drawGrid(canvas, geometry, windowS, laneCount, theme) {
  const ctx = canvas.getContext("2d");
  const { ratio, columns: width, lanesHeight, laneHeight } = geometry;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 1;
  for (let lane = 0; lane < laneCount; lane += 1) {
    const mid = Math.round(lane * laneHeight + laneHeight / 2) + 0.5;
    ctx.strokeStyle = theme.midline;
    ctx.beginPath();
    ctx.moveTo(0, mid);
    ctx.lineTo(width, mid);
    ctx.stroke();
    if (lane > 0) {
      const edge = Math.round(lane * laneHeight) + 0.5;
      ctx.strokeStyle = theme.laneEdge;
      ctx.beginPath();
      ctx.moveTo(0, edge);
      ctx.lineTo(width, edge);
      ctx.stroke();
    }
  }
  const step = windowS > 10 ? 5 : windowS > 5 ? 2 : windowS > 2 ? 1 : 0.5;
  ctx.font = `${12 * ratio}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  for (let s = 0; s <= windowS + 1e-9; s += step) {
    const x = Math.round(width - (s / windowS) * width) + 0.5;
    ctx.strokeStyle = theme.gridLine;
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, lanesHeight);
    ctx.stroke();
    ctx.fillStyle = theme.axisText;
    ctx.textAlign = s === 0 ? "right" : s + step > windowS + 1e-9 ? "left" : "center";
    const label = s === 0 ? "now" : `−${s} s`;
    ctx.fillText(label, s === 0 ? width - 2 : x, lanesHeight + 2 * ratio);
  }
}
