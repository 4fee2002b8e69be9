// Decoding of the eegd wire protocol, version 1 (docs/protocol.md): pure functions, no sockets.
// Arrays are Float32Array views on the received ArrayBuffer, never copies.

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 56;
export const FLAG_DECIMATED = 1;
export const Topic = Object.freeze({ RAW_EEG: 1, FILTERED_EEG: 2, FFT: 3, AUX: 6 });

/** A message the kiosk refuses to read; `code` is the protocol's error code. */
export class ProtocolError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
  }
}

const badFrame = (message) => new ProtocolError("bad_frame", message);

/** Parse a JSON text message into an object with a string `type`, or throw a ProtocolError. */
export function parseText(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError("bad_json", `text message is not JSON: ${error.message}`);
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new ProtocolError("bad_json", "text message is not a JSON object");
  }
  if (typeof message.type !== "string") {
    throw new ProtocolError("unknown_type", 'text message has no string "type"');
  }
  if (message.type === "hello") checkHello(message);
  return message;
}

function checkHello(hello) {
  if (hello.protocol !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "unsupported_version",
      `server speaks protocol ${hello.protocol}; this kiosk reads ${PROTOCOL_VERSION}`,
    );
  }
  const names = hello.channels;
  if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) {
    throw new ProtocolError("bad_field", "hello.channels must be a list of names");
  }
  if (!(hello.sample_rate > 0)) {
    throw new ProtocolError("bad_field", "hello.sample_rate must be a positive number");
  }
  const spectrum = hello.spectrum;
  if (spectrum != null && (!Array.isArray(spectrum.freqs) || !Array.isArray(spectrum.bands))) {
    throw new ProtocolError("bad_field", "hello.spectrum needs freqs and bands lists");
  }
}

/**
 * Decode one binary data frame with the session's latest hello.
 * EEG frames give `samples` (C × perChannel µV, channel-major) and `channel(c)`;
 * fft frames give `psd` (C × bins µV²/Hz) and `bandPower` (C × bands µV²); aux frames give
 * `values` (the aux stream's C × samples, each channel in its own unit of hello.aux.units).
 */
export function decodeFrame(buffer, hello) {
  if (!(buffer instanceof ArrayBuffer)) throw badFrame("data frame is not an ArrayBuffer");
  if (buffer.byteLength < HEADER_BYTES) {
    throw badFrame(`data frame of ${buffer.byteLength} bytes is shorter than its header`);
  }
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError("unsupported_version", `frame version ${version} is not 1`);
  }
  const header = {
    topic: view.getUint8(1),
    flags: view.getUint16(2, true),
    channelCount: view.getUint16(4, true),
    bandCount: view.getUint16(6, true),
    sampleCount: view.getUint32(8, true),
    frameId: Number(view.getBigUint64(16, true)),
    firstSample: Number(view.getBigUint64(24, true)),
    timestampUs: Number(view.getBigUint64(32, true)),
    sampleRate: view.getFloat64(48, true),
  };
  if (!hello) throw badFrame("data frame arrived before the hello");
  if (header.topic === Topic.AUX) return decodeAux(buffer, header, hello);
  if (header.channelCount !== hello.channels.length) {
    throw badFrame(
      `frame has ${header.channelCount} channels but the hello names ${hello.channels.length}`,
    );
  }
  if (header.topic === Topic.FFT) return decodeSpectrum(buffer, header, hello);
  if (header.topic === Topic.RAW_EEG || header.topic === Topic.FILTERED_EEG) {
    return decodeEeg(buffer, header);
  }
  throw badFrame(`unknown topic ${header.topic}`);
}

function checkLength(buffer, expected) {
  if (buffer.byteLength !== expected) {
    throw badFrame(`frame is ${buffer.byteLength} bytes; its header announces ${expected}`);
  }
}

function decodeEeg(buffer, header) {
  if ((header.flags & ~FLAG_DECIMATED) !== 0) throw badFrame(`unknown flags ${header.flags}`);
  if (header.bandCount !== 0) throw badFrame("an EEG frame has no bands");
  const decimated = (header.flags & FLAG_DECIMATED) !== 0;
  const perChannel = decimated ? 2 * header.sampleCount : header.sampleCount;
  const count = header.channelCount * perChannel;
  checkLength(buffer, HEADER_BYTES + 4 * count);
  const samples = new Float32Array(buffer, HEADER_BYTES, count);
  return {
    ...header,
    decimated,
    perChannel,
    samples,
    channel: (c) => samples.subarray(c * perChannel, (c + 1) * perChannel),
  };
}

function decodeAux(buffer, header, hello) {
  const names = hello.aux?.channels;
  if (!Array.isArray(names)) throw badFrame("aux frame arrived before a hello with an aux stream");
  if (header.channelCount !== names.length) {
    throw badFrame(`aux frame has ${header.channelCount} channels but hello.aux names ${names.length}`);
  }
  if (header.flags !== 0 || header.bandCount !== 0) throw badFrame("aux frames carry no flags or bands");
  const count = header.channelCount * header.sampleCount;
  checkLength(buffer, HEADER_BYTES + 4 * count);
  return { ...header, values: new Float32Array(buffer, HEADER_BYTES, count) };
}

function decodeSpectrum(buffer, header, hello) {
  if (header.flags !== 0) throw badFrame(`fft frames carry no flags, got ${header.flags}`);
  const spectrum = hello.spectrum;
  if (!spectrum) throw badFrame("fft frame arrived before a hello with a spectrum");
  if (header.sampleCount !== spectrum.freqs.length || header.bandCount !== spectrum.bands.length) {
    throw badFrame(
      `fft frame has ${header.sampleCount} bins and ${header.bandCount} bands but the hello ` +
        `has ${spectrum.freqs.length} and ${spectrum.bands.length}`,
    );
  }
  const psdCount = header.channelCount * header.sampleCount;
  const bandCount = header.channelCount * header.bandCount;
  checkLength(buffer, HEADER_BYTES + 4 * (psdCount + bandCount));
  return {
    ...header,
    psd: new Float32Array(buffer, HEADER_BYTES, psdCount),
    bandPower: new Float32Array(buffer, HEADER_BYTES + 4 * psdCount, bandCount),
  };
}
