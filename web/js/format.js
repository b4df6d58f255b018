// Formatting shared by the pages: durations, wall-clock times, sizes,
// hashes and the one-line description of a camera's stream.

const pad = (n) => String(n).padStart(2, '0');

// 83.4 -> "1:23", 3723 -> "1:02:03" (whole seconds, rounded down).
export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return hh ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// A marker's time: seconds with one decimal when it has a fraction.
export function formatOffset(seconds) {
  if (typeof seconds !== 'number') return '';
  const tenths = Math.floor((seconds % 1) * 10);
  return formatDuration(seconds) + (tenths ? `.${tenths}` : '');
}

// UTC ms -> local "2025-06-01 12:34:56".
export function formatDateTime(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// UTC ms -> local "12:34:56" (for times within one recording).
export function formatClock(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function isoTime(ms) {
  return typeof ms === 'number' ? new Date(ms).toISOString() : null;
}

export function formatBytes(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function shortHash(hex) {
  return typeof hex === 'string' && hex ? hex.slice(0, 12) : '';
}

const CODECS = {
  h264: 'H.264', h265: 'H.265', hevc: 'H.265', aac: 'AAC',
  pcma: 'G.711 A-law', pcm_alaw: 'G.711 A-law', pcmu: 'G.711 µ-law', pcm_mulaw: 'G.711 µ-law',
};
const codecName = (c) => CODECS[String(c).toLowerCase()] || String(c).toUpperCase();

// {video, audio} as a camera or a connection test gives them ->
// "H.264 320×240 10 fps · AAC 48 kHz mono", or '' when nothing is known.
export function formatStream(video, audio) {
  const parts = [];
  if (video && video.codec) {
    let v = codecName(video.codec);
    if (video.width && video.height) v += ` ${video.width}×${video.height}`;
    if (video.fps) v += ` ${Math.round(video.fps * 100) / 100} fps`;
    parts.push(v);
  }
  if (audio && audio.codec) {
    let a = codecName(audio.codec);
    if (audio.sample_rate) a += ` ${audio.sample_rate / 1000} kHz`;
    if (audio.channels) a += audio.channels === 1 ? ' mono' : audio.channels === 2 ? ' stereo' : ` ${audio.channels} ch`;
    parts.push(a);
  }
  return parts.join(' · ');
}

export const CAMERA_STATUS = {
  connecting: 'Connecting',
  online: 'Online',
  offline: 'Offline',
  error: 'Error',
};

export const ROOM_STATUS = {
  available: 'Available',
  recording: 'Recording',
  paused: 'Paused',
  locked: 'Locked',
};
