// Canvases that stay sharp: the backing store follows the element's CSS size times the device
// pixel ratio, and drawing code works in CSS pixels. The size comes from a ResizeObserver, so
// drawing never makes the browser lay the page out again in the middle of a frame.

/** A canvas kept at device resolution; `width`/`height` are CSS pixels, `dirty` after resizes. */
export class SharpCanvas {
  constructor(element) {
    this.element = element;
    this.context = element.getContext("2d");
    this.width = 0;
    this.height = 0;
    this.dirty = true;
    this.observed = null; // [width, height] in CSS pixels, as of the last layout
    new ResizeObserver(([entry]) => {
      const box = entry.borderBoxSize[0];
      this.observed = [box.inlineSize, box.blockSize];
      this.dirty = true;
    }).observe(element);
  }

  /** Resize the backing store if needed and reset the transform; returns the 2D context. */
  begin() {
    const ratio = window.devicePixelRatio || 1;
    const [cssWidth, cssHeight] = this.observed ?? measure(this.element);
    const width = Math.max(1, Math.round(cssWidth * ratio));
    const height = Math.max(1, Math.round(cssHeight * ratio));
    if (this.element.width !== width || this.element.height !== height) {
      this.element.width = width;
      this.element.height = height;
    }
    this.width = cssWidth;
    this.height = cssHeight;
    this.dirty = false;
    const scaleX = cssWidth > 0 ? width / cssWidth : ratio;
    const scaleY = cssHeight > 0 ? height / cssHeight : ratio;
    this.context.setTransform(scaleX, 0, 0, scaleY, 0, 0);
    this.context.clearRect(0, 0, cssWidth, cssHeight);
    return this.context;
  }
}

/** The element's size now (before the first observation only: it lays the page out). */
function measure(element) {
  const rect = element.getBoundingClientRect();
  return [rect.width, rect.height];
}
