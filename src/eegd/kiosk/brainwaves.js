// The brain-waves panel: the spectrum plot, the band bars, and the other views (band power
// over 60 s, spectrogram, head map), fed by fft frames and drawn only when one arrives or a
// setting changes, and the accelerometer (accel.js, fed by aux frames) where there is one; the alpha-peak readout says "no clear alpha peak" when there is none.
// State for tests on #spectrum: data-peak ("alpha" or "none"), data-peak-hz, data-spectra
// (fft frames shown), data-view, data-max-hz, data-power.

import { AccelView } from "./accel.js";
import { BandBars } from "./bands.js";
import { setData, setText } from "./dom.js";
import { SpectrumView } from "./spectrum.js";
import { HeadMap } from "./headmap.js";
import { BandHistory, Spectrogram } from "./views.js";

export class BrainWavesPanel {
  constructor(byId, theme) {
    this.root = byId("spectrum");
    this.readout = byId("peak-readout");
    this.tabs = byId("views");
    this.theme = theme;
    this.spectrum = new SpectrumView(byId("spectrum-canvas"));
    this.bands = new BandBars(byId("bands"));
    this.others = {
      history: new BandHistory(byId("history-canvas")),
      spectrogram: new Spectrogram(byId("spectrogram-canvas")),
      head: new HeadMap(byId("headmap-canvas"), byId("head-bands"), () => this.drawOther()),
    };
    this.accel = new AccelView(byId("accel-canvas"));
    this.accelTab = this.tabs.querySelector('[data-view="accel"]');
    this.shown = "psd";
    this.latest = null;
    this.count = 0;
    this.hello = null;
    this.tabs.addEventListener("click", (event) => {
      const name = event.target.closest("button")?.dataset.view;
      if (name) this.choose(name);
    });
  }

  /** A new session or spectrum axis (`hello`): forget every spectrum and aux sample. */
  reset(hello) {
    this.hello = hello;
    const accel = this.accel.reset(hello);
    this.accelTab.hidden = !accel;
    if (!accel && this.shown === "accel") this.choose("psd");
    const bands = hello.spectrum?.bands ?? [];
    this.spectrum.reset(hello.spectrum);
    this.bands.reset(bands);
    this.others.history.reset(bands);
    this.others.spectrogram.reset();
    this.others.head.reset(hello.channels, bands);
    this.latest = null;
    this.showPeak(undefined);
  }

  /** Take an fft frame for channel `selected` (or the mean, null). */
  update(frame, selected) {
    this.latest = frame;
    const peak = this.spectrum.update(frame, selected);
    this.bands.update(frame, selected);
    this.others.history.add(frame, selected, performance.now());
    const maxHz = this.spectrum.shownHz()[1];
    this.others.spectrogram.add(frame, selected, this.hello.spectrum.freqs, maxHz);
    this.others.head.add(frame);
    this.count += 1;
    this.root.dataset.spectra = String(this.count);
    this.drawOther();
    this.showPeak(peak);
  }

  /** Another channel (or the mean) was selected: the readout and bars follow at once. */
  select(selected) {
    if (!this.latest) return;
    this.showPeak(this.spectrum.findPeak(selected));
    this.bands.update(this.latest, selected, false);
  }

  /** Take an aux frame: the accelerometer view keeps its samples. */
  addAux(frame) {
    this.accel.add(frame);
  }

  /** Draw the spectrum plot or the accelerometer if shown and changed (at a display frame). */
  draw(selected) {
    if (this.shown === "psd") this.spectrum.draw(selected);
    else if (this.shown === "accel") this.accel.draw(this.theme);
  }

  drawOther() {
    this.others[this.shown]?.draw(this.theme);
  }

  /** Show view `name`: psd, history, spectrogram, head or accel. */
  choose(name) {
    this.shown = name;
    this.accel.changed = true;
    this.root.dataset.view = name;
    for (const button of this.tabs.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === name));
    }
    this.spectrum.changed = true;
    this.drawOther();
  }

  /** Settings of the view panel: maxHz, power ("log"/"linear"), bandUnit, theme. */
  configure(key, value) {
    if (key === "maxHz") {
      this.spectrum.configure({ maxHz: value });
      this.others.spectrogram.reset();
      this.root.dataset.maxHz = String(value);
    } else if (key === "power") {
      this.spectrum.configure({ linear: value === "linear" });
      this.root.dataset.power = value;
    } else if (key === "bandUnit") {
      this.bands.setUnit(value);
    } else if (key === "theme") {
      this.spectrum.configure({ theme: this.theme });
      this.drawOther();
    }
  }

  /** The readout: the alpha peak, "no clear alpha peak", or nothing before a spectrum. */
  showPeak(peak) {
    const hz = peak ? peak.hz.toFixed(1) : null;
    setData(this.root, "peakHz", hz);
    setData(this.root, "peak", peak === undefined ? null : peak === null ? "none" : "alpha");
    const text = peak === undefined ? "" : peak === null ? "no clear alpha peak" : `alpha peak ${hz} Hz`;
    setText(this.readout, text);
  }
}
