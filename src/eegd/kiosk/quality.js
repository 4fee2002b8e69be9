// Signal quality per channel from the raw stream, judged once per second of data: railed or
// clipping (the share of values near the channel's physical range, which a source declares,
// GET /api/status → source.physical_range, or else the ADS1299's ±187.5 mV at gain 24), a flat line, excessive 50/60 Hz line noise, and
// electrode contact where the source reports lead-off. Pure: no DOM, no sockets.

/** The ADS1299 at gain 24 (4.5 V reference): the range of sources that deliver ADC counts. */
export const ADS1299_RANGE_UV = [-187500, 187500];
/** A value this close to either end of the range (share of the half span) counts as railed. */
export const NEAR_RAIL = 0.05;
/** Above this share of values near the rails a channel is railed (bad); above CLIP_SHARE clipping. */
export const RAILED_SHARE = 0.1;
export const CLIP_SHARE = 0.005;
/** A second whose peak-to-peak is below this (µV) is a flat line. */
export const FLAT_UV = 0.5;
/** Line noise amplitude (µV, of the 50 or 60 Hz sine) that warns, and that is bad. */
export const LINE_WARN_UV = 10;
export const LINE_BAD_UV = 50;
const LINE_HZ = [50, 60];

/**
 * The verdict on one channel's second: `{level, reason, short}` with level "good", "warn" or
 * "bad", and `short` the reason in a few characters for the label beside the trace.
 * `stats`: `{count, nearRail, min, max, lineUv: {50: µV, 60: µV} or null}`; `leadOff` true
 * when the source reports the electrode off.
 */
export function judge(stats, leadOff = false) {
  if (leadOff) return { level: "bad", reason: "electrode off (lead-off)", short: "off" };
  const share = stats.count ? stats.nearRail / stats.count : 0;
  if (share >= RAILED_SHARE) {
    const reason = `railed: ${percent(share)} of samples at full scale`;
    return { level: "bad", reason, short: `railed ${percent(share)}` };
  }
  if (stats.max - stats.min < FLAT_UV) {
    const reason = `flat line: ${(stats.max - stats.min).toFixed(2)} µV peak to peak`;
    return { level: "bad", reason, short: "flat" };
  }
  // Clipped samples are steps that put power at every frequency: they are named first.
  if (share >= CLIP_SHARE) {
    const reason = `clipping: ${percent(share)} of samples at full scale`;
    return { level: "warn", reason, short: `clip ${percent(share)}` };
  }
  const line = worstLine(stats.lineUv);
  if (line && line.uv >= LINE_WARN_UV) {
    const level = line.uv >= LINE_BAD_UV ? "bad" : "warn";
    const reason = `line noise: ${line.uv.toFixed(0)} µV at ${line.hz} Hz`;
    return { level, reason, short: `${line.hz} Hz ${line.uv.toFixed(0)} µV` };
  }
  return { level: "good", reason: "good signal", short: "good" };
}

/** The verdict while no raw data arrives: grey, saying why (`why`: "reconnecting in 2 s"). */
export function noData(why) {
  return { level: "none", reason: `no data: ${why}`, short: "no data" };
}

function worstLine(lineUv) {
  if (!lineUv) return null;
  let worst = null;
  for (const hz of LINE_HZ) {
    if (lineUv[hz] !== undefined && (worst === null || lineUv[hz] > worst.uv)) {
      worst = { hz, uv: lineUv[hz] };
    }
  }
  return worst;
}

function percent(share) {
  return `${(100 * share).toFixed(share < 0.1 ? 1 : 0)}%`;
}

/**
 * Collects one second of a raw stream (full-rate samples or min/max pairs, µV, channel-major)
 * per channel and judges it; `verdicts` holds the latest judgement of every channel.
 */
export class QualityMeter {
  constructor(channelCount, entryRate, ranges = null) {
    this.channelCount = channelCount;
    this.entryRate = entryRate;
    this.declared = ranges !== null;
    this.ranges = ranges ?? Array.from({ length: channelCount }, () => ADS1299_RANGE_UV);
    this.perSecond = Math.max(1, Math.round(entryRate));
    // The line noise needs at least 2.4 values per cycle of 60 Hz.
    this.lineHz = entryRate >= 2.4 * 60 ? LINE_HZ : [];
    this.verdicts = Array.from({ length: channelCount }, () => null);
    this.leadOff = new Set();
    this.fresh();
  }

  fresh() {
    const n = this.channelCount;
    this.count = 0;
    this.nearRail = new Float64Array(n);
    this.min = new Float64Array(n).fill(Infinity);
    this.max = new Float64Array(n).fill(-Infinity);
    // Goertzel state per channel and line frequency: s1, s2.
    this.goertzel = this.lineHz.map(() => ({ s1: new Float64Array(n), s2: new Float64Array(n) }));
  }

  /** Channel names whose electrode the source reports off. */
  setLeadOff(indices) {
    this.leadOff = new Set(indices);
  }

  /** Feed `n` entries per channel; `pairs` true when they are (min, max) pairs. */
  push(samples, n, pairs) {
    for (let i = 0; i < n; i += 1) {
      for (let c = 0; c < this.channelCount; c += 1) {
        const low = pairs ? samples[c * 2 * n + 2 * i] : samples[c * n + i];
        const high = pairs ? samples[c * 2 * n + 2 * i + 1] : low;
        this.take(c, low, high);
      }
      this.count += 1;
      if (this.count >= this.perSecond) this.conclude();
    }
  }

  take(c, low, high) {
    const [bottom, top] = this.ranges[c];
    const margin = NEAR_RAIL * ((top - bottom) / 2);
    if (high >= top - margin || low <= bottom + margin) this.nearRail[c] += 1;
    if (low < this.min[c]) this.min[c] = low;
    if (high > this.max[c]) this.max[c] = high;
    const value = (low + high) / 2;
    this.lineHz.forEach((hz, j) => {
      const coefficient = 2 * Math.cos((2 * Math.PI * hz) / this.entryRate);
      const state = this.goertzel[j];
      const s0 = value + coefficient * state.s1[c] - state.s2[c];
      state.s2[c] = state.s1[c];
      state.s1[c] = s0;
    });
  }

  conclude() {
    const n = this.count;
    for (let c = 0; c < this.channelCount; c += 1) {
      let lineUv = null;
      if (this.lineHz.length) {
        lineUv = {};
        this.lineHz.forEach((hz, j) => {
          const { s1, s2 } = this.goertzel[j];
          const coefficient = 2 * Math.cos((2 * Math.PI * hz) / this.entryRate);
          const power = s1[c] ** 2 + s2[c] ** 2 - coefficient * s1[c] * s2[c];
          lineUv[hz] = (2 * Math.sqrt(Math.max(0, power))) / n;
        });
      }
      const stats = { count: n, nearRail: this.nearRail[c], min: this.min[c], max: this.max[c], lineUv };
      this.verdicts[c] = judge(stats, this.leadOff.has(c));
    }
    this.fresh();
  }
}
