// The kiosk's sign-in and its audit line. GET /api/session says the page's role and whether
// tokens exist at all; with none the sign-in stays hidden (the daemon is open to its own
// machine and checks only where requests come from). Signing in POSTs the token once; the
// daemon answers with an HttpOnly session cookie that this script never sees. The audit
// line shows the last change anyone asked for, from the daemon's "audit" system events.
// State for tests: data-role and data-sign-in on #signin, data-accepted on #audit-line.

const ENDPOINT = "/api/session";

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function clock(timestampUs) {
  const at = new Date(timestampUs / 1000);
  const pad = (value) => String(value).padStart(2, "0");
  return `${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

export class SignInPanel {
  constructor(parent) {
    this.button = element("button", { type: "button", id: "signin-button" }, "Sign in");
    this.token = element("input", {
      type: "password",
      id: "signin-token",
      autocomplete: "current-password",
      placeholder: "token",
      "aria-label": "Access token",
      size: "12",
    });
    this.form = element(
      "form",
      { id: "signin-form", hidden: "" },
      this.token,
      element("button", { type: "submit", id: "signin-submit" }, "OK"),
    );
    this.message = element("span", { id: "signin-message", role: "alert" });
    this.root = element(
      "div",
      { class: "signin", id: "signin", role: "group", "aria-label": "Sign-in", hidden: "" },
      this.button,
      this.form,
      this.message,
    );
    this.audit = element("div", { id: "audit-line", class: "audit-line", "aria-live": "polite" });
    // A line of its own at the foot of the screen, over the traces: it moves nothing.
    Object.assign(this.audit.style, {
      position: "fixed",
      left: "0.5rem",
      bottom: "0.25rem",
      maxWidth: "calc(100vw - 1rem)",
      overflow: "hidden",
      textOverflow: "ellipsis",
      whiteSpace: "nowrap",
      fontSize: "0.75rem",
      opacity: "0.75",
      pointerEvents: "none",
    });
    parent.append(this.root);
    document.body.append(this.audit);
    this.role = "public";
    this.via = "anonymous";
    this.button.addEventListener("click", () => this.toggle());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn(this.token.value);
    });
  }

  async refresh() {
    try {
      const reply = await fetch(ENDPOINT, { cache: "no-store" });
      const state = await reply.json();
      this.show(state);
    } catch (error) {
      this.message.textContent = error.message;
    }
  }

  show(state) {
    this.role = state.role;
    this.via = state.via;
    this.root.hidden = !state.sign_in;
    this.root.dataset.role = state.role;
    this.root.dataset.signIn = String(Boolean(state.sign_in));
    const signedIn = state.via === "session";
    this.button.textContent = signedIn ? `${state.role} · sign out` : "Sign in";
    this.button.setAttribute("aria-pressed", String(signedIn));
  }

  async toggle() {
    if (this.via === "session") {
      await fetch(ENDPOINT, { method: "DELETE" });
      this.message.textContent = "";
      await this.refresh();
      return;
    }
    this.form.hidden = !this.form.hidden;
    if (!this.form.hidden) this.token.focus();
  }

  async signIn(token) {
    this.message.textContent = "";
    try {
      const reply = await fetch(ENDPOINT, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: token.trim() }),
      });
      const answer = await reply.json();
      if (!reply.ok) throw new Error(answer.message ?? `sign-in: ${reply.status}`);
      this.token.value = "";
      this.form.hidden = true;
    } catch (error) {
      this.message.textContent = error.message;
    }
    await this.refresh();
  }

  systemEvent(message) {
    if (message.kind !== "audit") return;
    const detail = message.detail;
    const verdict = detail.accepted ? "" : " (refused)";
    this.audit.textContent = `${detail.action} by ${detail.role} at ${clock(message.timestamp)}${verdict}`;
    this.audit.title = detail.outcome ?? "";
    this.audit.dataset.accepted = String(Boolean(detail.accepted));
  }
}
