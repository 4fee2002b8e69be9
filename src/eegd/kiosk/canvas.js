// Canvases that stay sharp: the backing store follows the element's CSS size times the device
// pixel ratio, and drawing code works in CSS pixels.

/** A canvas kept at device resolution; `width`/`height` are CSS pixels, `dirty` after resizes. */
export class SharpCanvas {
  constructor(element) {
    this.element = element;
    this.context = element.getContext("2d");
    this.width = 0;
    this.height = 0;
    this.dirty = true;
    new ResizeObserver(() => {
      this.dirty = true;
    }).observe(element);
  }

  /** Resize the backing store if needed and reset the transform; returns the 2D context. */
  begin() {
    const ratio = window.devicePixelRatio || 1;
    const rect = this.element.getBoundingClientRect();
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.element.width !== width || this.element.height !== height) {
      this.element.width = width;
      this.element.height = height;
    }
    this.width = rect.width;
    this.height = rect.height;
    this.dirty = false;
    const scaleX = rect.width > 0 ? width / rect.width : ratio;
    const scaleY = rect.height > 0 ? height / rect.height : ratio;
    this.context.setTransform(scaleX, 0, 0, scaleY, 0, 0);
    this.context.clearRect(0, 0, rect.width, rect.height);
    return this.context;
  }
}
