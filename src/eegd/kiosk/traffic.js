// What arrived of the shown stream: frames, gaps (lost data) and messages the page could not
// read. State for tests on <body>: data-frames, data-gaps, data-errors.

import { setData } from "./dom.js";
import { ProtocolError } from "./protocol.js";

export class Traffic {
  constructor() {
    this.frames = 0;
    this.gaps = 0;
    this.errors = 0;
    this.restart();
  }

  /** A new stream (a session, another signal): the next frame starts the count of samples. */
  restart() {
    this.lastFrameId = null;
    this.nextSample = null;
    this.lastSpan = null;
  }

  /**
   * Count an EEG frame of `span` source samples per entry. Lost data shows as a jump in
   * first_sample. Frame ids are checked too for full-rate frames only: an envelope's frame_id
   * is the last source frame it covers, and a source frame that completes no pair yields no
   * envelope, so envelope ids may skip without any loss. When the stream's rate changes (the
   * kiosk asked for another max_rate), eegd starts a new envelope at its next packet and drops
   * the samples of an unfinished pair: a jump there is no loss.
   */
  count(frame, span) {
    const sameStream = this.lastSpan === span;
    this.lastSpan = span;
    const next = this.nextSample;
    const sampleJump = sameStream && next !== null && frame.firstSample > next;
    const idJump =
      !frame.decimated && this.lastFrameId !== null && frame.frameId > this.lastFrameId + 1;
    if (sampleJump || idJump) this.gaps += 1;
    this.lastFrameId = frame.frameId;
    this.nextSample = Math.max(this.nextSample ?? 0, frame.firstSample + frame.sampleCount * span);
    this.frames += 1;
  }

  /** A message the page could not read or handle: counted, logged, and the page carries on. */
  error(error) {
    this.errors += 1;
    const kind = error instanceof ProtocolError ? `protocol error (${error.code})` : "error";
    console.warn(`eegd kiosk: ${kind}; carrying on`, error);
  }

  show(body) {
    setData(body, "frames", this.frames);
    setData(body, "errors", this.errors);
    setData(body, "gaps", this.gaps);
  }
}
