// Marker buttons: one per label of the daemon's [kiosk] marker_labels (GET /api/kiosk), in a
// menu under "Mark"; keys 1–9 press them without opening it. A press is POST /api/markers
// with the label; the flag on the traces comes back over the marker topic, as anyone else's
// marker does, so every kiosk shows it. State for tests on #markers: data-labels (the
// labels, "|" between), data-marked (presses the daemon accepted).

const FALLBACK_LABELS = ["event"];

export class MarkerButtons {
  /** `onRefused(action, message, status)` is told when the daemon refuses a marker. */
  constructor(root, onRefused) {
    this.root = root;
    this.toggle = root.querySelector("#marker");
    this.menu = root.querySelector("#marker-menu");
    this.onRefused = onRefused;
    this.labels = FALLBACK_LABELS;
    this.marked = 0;
    this.toggle.addEventListener("click", () => this.setOpen(this.menu.hidden));
    this.menu.addEventListener("click", (event) => {
      const index = event.target.closest("button")?.dataset.index;
      if (index === undefined) return;
      this.setOpen(false);
      this.press(Number(index));
    });
  }

  async load() {
    try {
      const reply = await fetch("/api/kiosk", { cache: "no-store" });
      if (reply.ok) this.labels = (await reply.json()).marker_labels ?? FALLBACK_LABELS;
    } catch {
      // the status line already says why eegd cannot be reached; the fallback label stays
    }
    this.build();
  }

  build() {
    const buttons = this.labels.map((label, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.index = String(index);
      button.dataset.label = label;
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      button.append(key, label);
      return button;
    });
    this.menu.replaceChildren(...buttons);
    this.root.dataset.labels = this.labels.join("|");
  }

  setOpen(open) {
    this.menu.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
  }

  /** A key press: "1".."9" marks with that label; true when it was one. */
  key(key) {
    const index = Number(key) - 1;
    if (!/^[1-9]$/.test(key) || index >= this.labels.length) return false;
    this.press(index);
    return true;
  }

  async press(index) {
    const label = this.labels[index];
    try {
      const reply = await fetch("/api/markers", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ label }),
      });
      const answer = await reply.json().catch(() => ({}));
      if (!reply.ok) {
        this.onRefused(`Marker "${label}"`, answer.message ?? String(reply.status), reply.status);
        return;
      }
      this.marked += 1;
      this.root.dataset.marked = String(this.marked);
      this.toggle.title = `"${label}" marked at sample ${answer.sample ?? "?"} (keys 1–${this.labels.length})`;
    } catch (error) {
      this.onRefused(`Marker "${label}"`, error.message, 0);
    }
  }
}
