// The WebSocket to eegd's /ws: subscribes (with display decimation where asked), keeps itself
// alive, and reconnects by itself with a doubling back-off (0.5 s up to 5 s), announcing every
// step so the page can say what it does.

export const BACKOFF = Object.freeze({ initialS: 0.5, maxS: 5, multiplier: 2 });
const CONNECT_TIMEOUT_MS = 5000;
const PING_INTERVAL_MS = 5000;
const SILENCE_LIMIT_MS = 15000;

/** The delay before reconnect attempt `failures` (1-based): 0.5, 1, 2, 4, 5, 5, … seconds. */
export function backoffSeconds(failures) {
  const delay = BACKOFF.initialS * BACKOFF.multiplier ** Math.max(0, failures - 1);
  return Math.min(BACKOFF.maxS, delay);
}

/**
 * One logical connection that survives the socket: `handlers` gets
 * `connecting(attempt)`, `open()`, `message(data)` (string or ArrayBuffer),
 * `closed(retryAtMs, reason)` where retryAtMs is a performance.now() time.
 */
export class Connection {
  constructor(url, topics, handlers) {
    this.url = url;
    this.topics = topics;
    this.maxRates = new Map();
    this.handlers = handlers;
    this.failures = 0;
    this.socket = null;
    this.subscribed = false;
    this.timers = new Set();
    this.lastHeardMs = 0;
  }

  /** Open the first socket; later ones are opened by the back-off. */
  start() {
    this.open();
  }

  open() {
    this.handlers.connecting(this.failures + 1);
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    const unanswered = () => this.abandon(socket, "eegd does not answer");
    const giveUp = this.later(CONNECT_TIMEOUT_MS, unanswered);
    socket.onopen = () => {
      this.clear(giveUp);
      this.lastHeardMs = performance.now();
      this.subscribeAll(socket);
      this.keepAlive(socket);
      this.handlers.open();
    };
    socket.onmessage = ({ data }) => {
      this.lastHeardMs = performance.now();
      this.handlers.message(data);
    };
    socket.onclose = (event) => {
      if (socket === this.socket) this.abandon(socket, event.reason || closeReason(event.code));
    };
  }

  /**
   * Receive `topic` as a min/max envelope of at most `maxRate` pairs per second, or every
   * sample when `maxRate` is null; kept for later sockets too. eegd moves the client over.
   */
  setMaxRate(topic, maxRate) {
    if (maxRate === null) this.maxRates.delete(topic);
    else this.maxRates.set(topic, maxRate);
    if (this.subscribed && this.topics.includes(topic)) {
      this.socket.send(subscribeMessage([topic], maxRate));
    }
  }

  /**
   * Receive `topic` (`on`) or no longer (`!on`), on this socket and the later ones: a topic
   * no view shows costs the page its decoding for nothing.
   */
  want(topic, on) {
    if (this.topics.includes(topic) === on) return;
    this.topics = on ? [...this.topics, topic] : this.topics.filter((t) => t !== topic);
    if (!this.subscribed) return;
    const maxRate = this.maxRates.get(topic) ?? null;
    const message = on ? subscribeMessage([topic], maxRate) : { type: "unsubscribe", topics: [topic] };
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Also receive `topic` on the open socket, in a message of its own (one the server offers). */
  subscribeNow(topic) {
    if (this.subscribed) this.socket.send(subscribeMessage([topic], null));
  }

  subscribeAll(socket) {
    const plain = this.topics.filter((topic) => !this.maxRates.has(topic));
    if (plain.length > 0) socket.send(subscribeMessage(plain, null));
    for (const [topic, maxRate] of this.maxRates) {
      if (this.topics.includes(topic)) socket.send(subscribeMessage([topic], maxRate));
    }
    this.subscribed = true;
  }

  /** Stop using `socket` now (without waiting for a closing handshake) and schedule a retry. */
  abandon(socket, reason) {
    this.socket = null;
    this.subscribed = false;
    this.clearAll();
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close();
    this.retry(reason);
  }

  /** The server spoke (a hello): the link works, so the next loss starts the back-off anew. */
  confirm() {
    this.failures = 0;
  }

  retry(reason) {
    this.failures += 1;
    const delayMs = backoffSeconds(this.failures) * 1000;
    this.handlers.closed(performance.now() + delayMs, reason);
    this.later(delayMs, () => this.open());
  }

  keepAlive(socket) {
    const tick = () => {
      if (performance.now() - this.lastHeardMs > SILENCE_LIMIT_MS) {
        this.abandon(socket, "eegd stopped answering");
        return;
      }
      socket.send(JSON.stringify({ type: "ping" }));
      this.later(PING_INTERVAL_MS, tick);
    };
    this.later(PING_INTERVAL_MS, tick);
  }

  later(delayMs, action) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, delayMs);
    this.timers.add(timer);
    return timer;
  }

  clear(timer) {
    clearTimeout(timer);
    this.timers.delete(timer);
  }

  clearAll() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

function subscribeMessage(topics, maxRate) {
  const message = { type: "subscribe", topics };
  if (maxRate !== null) message.max_rate = maxRate;
  return JSON.stringify(message);
}

function closeReason(code) {
  if (code === 1001) return "eegd went away";
  if (code === 1006) return "cannot reach eegd";
  return `connection closed (${code})`;
}
