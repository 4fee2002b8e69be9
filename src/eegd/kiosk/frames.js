// When the page draws: at the display frame after something changed or fell due, not at every
// frame. A requestAnimationFrame callback makes the browser run its whole frame on the main
// thread (animations, style, paint, commit) even when nothing changed, and the compositor
// scrolls the traces by itself; so `draw` says when it is next due and the loop sleeps on a
// timer until then. Anything else (a message, a tap, a resize) asks for a frame.

/** The timer wakes the loop this long before a due time: the frame after it is then the first
 * display frame at or after the due time, as with a check at every frame. */
const LEAD_MS = 4;

export class FrameLoop {
  /** `draw(nowMs)` draws one frame and returns when the next is due (ms, or Infinity);
   * between frames `at` may move that time. */
  constructor(draw) {
    this.draw = draw;
    this.pending = false;
    this.timer = null;
    this.dueMs = Infinity;
  }

  /** Draw at the next display frame. */
  request() {
    if (this.pending) return;
    this.pending = true;
    this.cancelTimer();
    requestAnimationFrame((nowMs) => this.run(nowMs));
  }

  /**
   * The next frame is due at `atMs` (performance.now time; Infinity: none): the loop draws at
   * the first display frame from then on, unless asked sooner. It replaces the due time set
   * before, so that a due time that moved later (data came) does not wake the page.
   */
  at(atMs) {
    if (this.pending || atMs === this.dueMs) return;
    this.cancelTimer();
    if (atMs === Infinity) return;
    const wait = atMs - LEAD_MS - performance.now();
    if (wait <= 0) {
      this.request();
      return;
    }
    this.dueMs = atMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dueMs = Infinity;
      this.request();
    }, wait);
  }

  cancelTimer() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dueMs = Infinity;
  }

  run(nowMs) {
    this.pending = false;
    const next = this.draw(nowMs);
    if (next <= nowMs) this.request();
    else this.at(next);
  }
}
