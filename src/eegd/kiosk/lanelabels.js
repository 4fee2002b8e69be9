// The lane labels and channel pages: one button per lane on the current page (the channel's
// name, its signal-quality dot, pressed when selected), and the page buttons under the lanes.
// On wide screens each label also says its channel's quality in a few characters (OpenBCI
// shows railed % on every channel); the full reason is the label's title everywhere.
// State for tests: data-page, data-pages, data-hidden on <body>; data-quality ("good",
// "warn", "bad", "none" without fresh data, "unknown" before any) and data-quality-reason
// on each label.

import { channelColor } from "./colors.js";
import { lanesPerPage, pageName, pages } from "./lanes.js";
import { AXIS_HEIGHT } from "./traces.js";

export class LaneLabels {
  constructor(ui, onSelect) {
    this.ui = ui;
    this.onSelect = onSelect;
    this.names = [];
    this.hidden = new Set();
    this.pages = [[]];
    this.page = 0;
    this.selected = null;
    this.verdicts = [];
    this.lanesHeight = 0;
    ui.pagePrev.addEventListener("click", () => this.turn(-1));
    ui.pageNext.addEventListener("click", () => this.turn(1));
  }

  /** The channels on the current page, top to bottom. */
  get lanes() {
    return this.pages[this.page] ?? [];
  }

  /** The height of one lane in CSS pixels, as of the last layout. */
  laneHeight() {
    return this.lanesHeight / (this.lanes.length || 1);
  }

  /** A new session's channel names: every channel shown, first page. */
  reset(names) {
    this.names = names;
    this.hidden = new Set();
    this.page = 0;
    this.selected = null;
    this.verdicts = [];
  }

  /** Cut the shown channels into pages that fit and build the current page's labels. */
  layout(themeName) {
    const ui = this.ui;
    const height = ui.laneLabels.getBoundingClientRect().height - AXIS_HEIGHT;
    this.lanesHeight = height;
    this.pages = pages(this.names.length, this.hidden, lanesPerPage(height));
    this.page = Math.min(this.page, this.pages.length - 1);
    const lanes = this.lanes;
    ui.laneLabels.replaceChildren(...lanes.map((c) => this.label(c, themeName)));
    ui.pageNav.hidden = this.pages.length < 2;
    ui.pageLabel.textContent = `${this.page + 1}/${this.pages.length}`;
    ui.pageNames.textContent = pageName(this.names, lanes);
    ui.pagePrev.disabled = this.page === 0;
    ui.pageNext.disabled = this.page === this.pages.length - 1;
    const data = document.body.dataset;
    data.page = String(this.page + 1);
    data.pages = String(this.pages.length);
    data.hidden = [...this.hidden].map((c) => this.names[c]).join(",");
    this.showQuality(this.verdicts);
    return lanes;
  }

  label(c, themeName) {
    const name = this.names[c];
    const button = document.createElement("button");
    button.type = "button";
    button.innerHTML = '<span class="quality-dot" aria-hidden="true"></span>';
    button.append(name);
    button.dataset.channel = name;
    button.dataset.index = String(c);
    button.style.setProperty("--channel-color", channelColor(c, themeName));
    button.setAttribute("aria-pressed", String(c === this.selected));
    button.addEventListener("click", () => this.onSelect(this.selected === c ? null : c));
    return button;
  }

  turn(step) {
    this.page = Math.max(0, Math.min(this.pages.length - 1, this.page + step));
    this.onSelect(this.selected, true);
  }

  /** Mark channel `c` (or none) as selected. */
  select(c) {
    this.selected = c;
    for (const button of this.ui.laneLabels.children) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.index) === c));
    }
  }

  /** The latest quality verdicts, one per channel (or null before any). */
  showQuality(verdicts) {
    this.verdicts = verdicts;
    for (const button of this.ui.laneLabels.children) {
      const verdict = verdicts[Number(button.dataset.index)];
      const level = verdict?.level ?? "unknown";
      if (button.dataset.quality !== level) button.dataset.quality = level;
      const reason = verdict?.reason ?? "no raw data yet";
      if (button.dataset.qualityReason !== reason) {
        button.dataset.qualityReason = reason;
        button.title = `${button.dataset.channel}: ${reason} (tap to select)`;
        button.dataset.qualityShort = verdict?.short ?? "";
      }
    }
  }
}
