// The self-test control: a button, shown only when /api/status says the source has a
// self-test (source.selftest), that POSTs /api/selftest and lists the result per channel
// (pass or fail, noise and test-signal figures). The state is mirrored into data-selftest
// (idle, running, passed, failed, error) for tests.

const POLL_MS = 5000;

const fixed = (value, digits) => (typeof value === "number" ? value.toFixed(digits) : "?");

export function describeChannel(channel) {
  const noise = channel.noise ?? {};
  const test = channel.test_signal ?? {};
  return (
    `${fixed(noise.rms_uv, 2)} µVrms (≤ ${fixed(noise.limit_rms_uv, 2)}) · ` +
    `test ${fixed(test.amplitude_uv, 0)}/${fixed(test.expected_amplitude_uv, 0)} µV ` +
    `${fixed(test.frequency_hz, 2)} Hz` +
    (channel.lead_off ? " · lead off" : "")
  );
}

export class SelfTestPanel {
  constructor(root) {
    this.root = root;
    this.button = root.querySelector("#selftest-run");
    this.label = root.querySelector("#selftest-label");
    this.menu = root.querySelector("#selftest-menu");
    this.verdict = root.querySelector("#selftest-verdict");
    this.list = root.querySelector("#selftest-channels");
    this.labelHtml = this.label.innerHTML;
    this.root.dataset.selftest = "idle";
    this.button.addEventListener("click", () => this.run());
  }

  start() {
    this.refresh();
    setInterval(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    try {
      const reply = await fetch("/api/status");
      if (!reply.ok) return;
      const status = await reply.json();
      this.root.hidden = status.source?.selftest !== true;
    } catch {
      // the status line already says why eegd cannot be reached
    }
  }

  async run() {
    this.root.dataset.selftest = "running";
    this.button.disabled = true;
    this.label.textContent = "…";
    try {
      const reply = await fetch("/api/selftest", { method: "POST" });
      const answer = await reply.json();
      if (!reply.ok) throw new Error(answer.message ?? `self-test: ${reply.status}`);
      this.show(answer);
    } catch (error) {
      this.root.dataset.selftest = "error";
      this.verdict.textContent = "!";
      this.verdict.title = error.message;
      this.list.replaceChildren(this.line(error.message));
      this.menu.hidden = false;
      this.menu.open = true;
    } finally {
      this.button.disabled = false;
      this.label.innerHTML = this.labelHtml;
    }
  }

  line(text) {
    const item = document.createElement("li");
    item.className = "selftest-verdict";
    item.textContent = text;
    return item;
  }

  show(result) {
    const channels = result.channels ?? [];
    const failed = channels.filter((channel) => !channel.passed);
    this.root.dataset.selftest = result.passed ? "passed" : "failed";
    this.root.dataset.failed = failed.map((channel) => channel.name).join(",");
    const verdict = result.passed
      ? `all ${channels.length} channels pass`
      : `${failed.length} of ${channels.length} channels fail`;
    this.verdict.textContent = result.passed ? "✓" : `✗ ${failed.length}`;
    this.verdict.title = verdict;
    const items = channels.map((channel) => {
      const item = document.createElement("li");
      item.dataset.passed = String(channel.passed);
      const name = document.createElement("strong");
      name.textContent = `${channel.passed ? "✓" : "✗"} ${channel.name}`;
      const figures = document.createElement("span");
      figures.textContent = ` ${describeChannel(channel)}`;
      item.append(name, figures);
      return item;
    });
    this.list.replaceChildren(this.line(verdict), ...items);
    this.menu.hidden = false;
    this.menu.open = true;
  }
}
