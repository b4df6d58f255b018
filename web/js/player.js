// The live player: a camera's WebSocket (/live/{id}) fed into a <video>
// through Media Source Extensions, or LL-HLS where the browser has no MSE
// but plays HLS itself (iPhone Safari).
//
// The server sends a text message with the MIME type (codecs included),
// then the fMP4 init segment, then fragments (moof+mdat) starting on a
// keyframe. A new text message (the camera came back with other
// parameters, or a reconnection) starts over with a new MediaSource.
//
//   const player = playLive(video, cameraId, {
//     onState(state, detail) {},   // see below
//     onInfo({ type, audio, quality }) {}, // the stream's MIME type, whether it has sound
//     codec: 'h265',               // the camera's video codec, when known
//     substream: true,             // the camera has a second (sub) stream
//     quality: 'sub',              // ask for the substream (dense grids)
//   });
//   player.close();
//
// States: 'connecting'; 'playing' (live); 'waiting' (no picture yet, or
// the camera sends nothing; detail says why); 'offline' (the live video
// cannot be reached; trying again with back-off; detail says so); 'error'
// (it will not play here; detail is a sentence for the screen). The video
// plays muted (autoplay needs that); the caller may unmute it.
//
// H.265: browsers without a hardware decoder (Debian's Chromium) cannot
// play it. Then the player asks for the camera's substream
// (/live/{id}?quality=sub; the server falls back to the main stream when
// the camera has none) and, if that is H.265 too, says so and stops.

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const MAX_LATENCY_S = 1.0; // behind the live edge by more: jump forward
const TARGET_LATENCY_S = 0.2; // where a jump lands, before the edge
const CATCH_UP_S = 0.5; // behind by more: play 10% faster until near the edge
const KEEP_BEHIND_S = 10; // buffer kept behind the playhead
const TRIM_AFTER_S = 15; // trim once that much lies behind
const MAX_QUEUE_BYTES = 16 * 1024 * 1024; // more waiting to be appended: start over
const STALL_MS = 3000; // no data for that long while connected: 'waiting'
const HEVC_PROBE = 'video/mp4; codecs="hvc1.1.6.L93.B0"';

export const HEVC_MESSAGE = 'This browser cannot decode H.265 video';

function hevcMessage(why) {
  return `${HEVC_MESSAGE}${why} Use a browser with H.265 support (Safari, or Edge/Chrome with hardware decoding), or give the camera an H.264 substream.`;
}

const isHevc = (type) => /\b(hvc1|hev1)\b/i.test(type || '');

// Whether this browser can play H.265 through MSE.
export function canPlayHevc() {
  const MS = window.MediaSource || window.ManagedMediaSource;
  return !!MS && MS.isTypeSupported(HEVC_PROBE);
}

export function playLive(video, cameraId, { onState, onInfo, codec, substream, quality: wanted } = {}) {
  const MS = window.MediaSource || window.ManagedMediaSource;
  let closed = false;
  let ws = null;
  let retryTimer = null;
  let delay = MIN_DELAY_MS;
  let session = null; // the current MediaSource and its SourceBuffer
  let state = '';
  let detail;
  let lastData = 0;
  // A camera known to send H.265 to a browser that cannot decode it asks
  // for its substream straight away.
  let quality = wanted === 'sub' || (substream && /^(h265|hevc)$/i.test(codec || '') && MS && !canPlayHevc()) ? 'sub' : 'main';

  function report(s, d) {
    if (closed || (s === state && d === detail)) return;
    state = s;
    detail = d;
    if (onState) onState(s, d);
  }

  function retryIn() {
    const ms = delay * (0.75 + Math.random() * 0.5);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
    return ms;
  }

  video.muted = true;
  video.playsInline = true;
  if (window.ManagedMediaSource && !window.MediaSource) video.disableRemotePlayback = true;

  if (!MS) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) return playHls();
    report('error', 'This browser cannot play live video (no Media Source Extensions, no HLS).');
    return { close() { closed = true; } };
  }

  // --- the socket ---------------------------------------------------------

  function connect() {
    retryTimer = null;
    if (closed) return;
    report('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = quality === 'sub' ? '?quality=sub' : '';
    const sock = new WebSocket(`${scheme}//${location.host}/live/${encodeURIComponent(cameraId)}${q}`);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      lastData = performance.now();
    };
    sock.onmessage = (ev) => {
      if (ws !== sock || closed) return;
      lastData = performance.now();
      if (typeof ev.data === 'string') startOver(...parseType(ev.data));
      else if (session) feed(session, ev.data);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      if (closed) return;
      // Refused (401/404) or the server went away: try again, more slowly
      // each time. The picture already shown stays until new data comes.
      const ms = retryIn();
      if (!opened) report('offline', `The live video cannot be reached; trying again in ${Math.round(ms / 1000)} s.`);
      else report('connecting');
      retryTimer = setTimeout(connect, ms);
    };
  }

  function closeSocket() {
    const sock = ws;
    ws = null;
    if (!sock) return;
    sock.onmessage = sock.onclose = sock.onerror = null;
    // Closing a socket that is still connecting makes the browser log an
    // error; let it open first, then close it.
    if (sock.readyState === WebSocket.CONNECTING) sock.onopen = () => sock.close(1000);
    else if (sock.readyState === WebSocket.OPEN) sock.close(1000);
  }

  // A problem that another connection will not cure (an unsupported codec):
  // stay stopped and say so.
  function fail(message) {
    report('error', message);
    closeSocket();
    clearTimeout(retryTimer);
    retryTimer = null;
    endSession();
  }

  // A problem with this stream (a decode error, a full buffer): reconnect,
  // which starts over with a fresh init segment and a keyframe.
  function restart(message) {
    report('waiting', message);
    closeSocket();
    endSession();
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryIn());
  }

  // --- Media Source -------------------------------------------------------

  // The first text message: the MIME type; asked with ?quality=, a JSON
  // object { mime, quality, fallback } (fallback: the camera has no
  // substream, the main stream came). Returns [type, served or null].
  function parseType(text) {
    const t = text.trim();
    if (!t.startsWith('{')) return [t, null];
    try {
      const j = JSON.parse(t);
      return [typeof j.mime === 'string' ? j.mime.trim() : '', j];
    } catch {
      return ['', null];
    }
  }

  function startOver(type, served) {
    endSession();
    if (!MS.isTypeSupported(type)) {
      if (isHevc(type)) {
        if (quality !== 'sub') {
          // Try the camera's substream at once; no back-off for a switch.
          quality = 'sub';
          closeSocket();
          clearTimeout(retryTimer);
          retryTimer = setTimeout(connect, 0);
          return;
        }
        return fail(hevcMessage(served && !served.fallback
          ? ' (the camera\'s substream is H.265 too).'
          : ', and this camera has no H.264 substream.'));
      }
      return fail(`This browser cannot play this camera's live video (${type || 'no type given'}).`);
    }
    if (onInfo) onInfo({ type, audio: /\bmp4a\b/i.test(type), quality: served ? served.quality : 'main' });
    const ms = new MS();
    const s = { ms, type, sb: null, queue: [], queued: 0, started: false, url: URL.createObjectURL(ms) };
    session = s;
    ms.addEventListener('sourceopen', () => {
      URL.revokeObjectURL(s.url);
      if (session !== s) return;
      try {
        s.sb = ms.addSourceBuffer(type);
        s.sb.mode = 'segments';
      } catch (err) {
        return fail(`This browser cannot play this camera's live video (${err.message}).`);
      }
      s.sb.addEventListener('updateend', () => {
        if (session !== s) return;
        follow(s);
        pump(s);
      });
      pump(s);
    }, { once: true });
    video.src = s.url;
    report('waiting', 'Waiting for the picture.');
  }

  function endSession() {
    const s = session;
    session = null;
    if (!s) return;
    s.queue = [];
    URL.revokeObjectURL(s.url);
    video.removeAttribute('src');
    video.load(); // detaches the MediaSource
  }

  function feed(s, data) {
    s.queue.push(data);
    s.queued += data.byteLength;
    if (s.queued > MAX_QUEUE_BYTES) return restart('The browser fell behind; catching up.');
    pump(s);
  }

  // One operation on the SourceBuffer at a time: trim what lies far behind
  // the playhead, else append the next message.
  function pump(s) {
    const sb = s.sb;
    if (!sb || sb.updating || s.ms.readyState !== 'open') return;
    try {
      const b = sb.buffered;
      if (b.length && video.currentTime - b.start(0) > TRIM_AFTER_S) {
        sb.remove(0, video.currentTime - KEEP_BEHIND_S);
        return;
      }
      const next = s.queue.shift();
      if (!next) return;
      s.queued -= next.byteLength;
      sb.appendBuffer(next);
    } catch (err) {
      if (err.name === 'QuotaExceededError') restart('The browser buffer is full; catching up.');
      else restart(`The live video stopped (${err.message}); reconnecting.`);
    }
  }

  // After each append: start at the first picture, and stay near the edge.
  function follow(s) {
    const b = s.sb.buffered;
    if (!b.length) return;
    const last = b.length - 1;
    const end = b.end(last);
    if (!s.started) {
      s.started = true;
      video.currentTime = b.start(0);
      const p = video.play();
      if (p) p.catch(() => {}); // a newer load or close interrupts it: fine
      delay = MIN_DELAY_MS; // a connection that delivers resets the back-off
      return;
    }
    // Too far behind, or stuck before a hole (the server skips to the next
    // keyframe for a slow viewer): jump to just before the live edge.
    const behind = end - video.currentTime;
    if (behind > MAX_LATENCY_S) {
      video.currentTime = Math.max(b.start(last), end - TARGET_LATENCY_S);
    } else {
      // A little behind: catch up by playing a little faster, no jump.
      if (behind > CATCH_UP_S) video.playbackRate = 1.1;
      else if (behind < TARGET_LATENCY_S + 0.1) video.playbackRate = 1;
    }
    if (video.paused && !video.ended) {
      const p = video.play();
      if (p) p.catch(() => {});
    } else if (video.readyState >= 3) {
      report('playing');
    }
  }

  // --- the video element's own view ----------------------------------------

  const onPlaying = () => { if (session) report('playing'); };
  const onWaiting = () => { if (session) report('waiting', 'Waiting for the picture.'); };
  const onError = () => {
    if (!session || !video.error) return;
    restart(`The live video could not be decoded (${video.error.message || `error ${video.error.code}`}); reconnecting.`);
  };
  video.addEventListener('playing', onPlaying);
  video.addEventListener('waiting', onWaiting);
  video.addEventListener('error', onError);

  // A connected socket that brings nothing: the camera is away.
  const watchdog = setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && performance.now() - lastData > STALL_MS) {
      report('waiting', 'No video from the camera.');
    }
  }, 1000);

  connect();

  return {
    close() {
      if (closed) return;
      closeSocket();
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(watchdog);
      video.removeEventListener('playing', onPlaying);
      video.removeEventListener('waiting', onWaiting);
      video.removeEventListener('error', onError);
      endSession();
    },
  };

  // --- LL-HLS, for browsers that play HLS themselves -------------------------
  //
  // The playlist URL carries a signed grant (GET /api/v1/cameras/{id}/live),
  // since the browser's own HLS requests may not send the session cookie
  // to the media listener. A failure fetches a new grant, with back-off.
  function playHls() {
    let timer = null;
    let loadSeq = 0;

    async function load() {
      timer = null;
      if (closed) return;
      const seq = ++loadSeq;
      report('connecting');
      try {
        // ?for=hls: a grant that outlives a long session, since the
        // browser reloads this one playlist URL for as long as it plays.
        const res = await fetch(`/api/v1/cameras/${encodeURIComponent(cameraId)}/live?for=hls`, {
          credentials: 'same-origin', headers: { Accept: 'application/json' },
        });
        if (!res.ok) throw new Error(`the server answered ${res.status}`);
        const { grant } = await res.json();
        if (closed || seq !== loadSeq) return;
        video.src = `/live/${encodeURIComponent(cameraId)}/index.m3u8?grant=${encodeURIComponent(grant)}`;
        const p = video.play();
        if (p) p.catch(() => {});
        if (onInfo) onInfo({ type: 'application/vnd.apple.mpegurl', audio: true, quality: 'main' });
      } catch {
        retry();
      }
    }

    function retry() {
      if (closed || timer) return;
      const ms = retryIn();
      report('offline', `The live video cannot be reached; trying again in ${Math.round(ms / 1000)} s.`);
      timer = setTimeout(load, ms);
    }

    const onHlsPlaying = () => {
      delay = MIN_DELAY_MS;
      report('playing');
    };
    const onHlsWaiting = () => report('waiting', 'Waiting for the picture.');
    const onHlsError = () => {
      if (!closed && video.error) retry();
    };
    video.addEventListener('playing', onHlsPlaying);
    video.addEventListener('waiting', onHlsWaiting);
    video.addEventListener('error', onHlsError);
    load();
    return {
      close() {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        video.removeEventListener('playing', onHlsPlaying);
        video.removeEventListener('waiting', onHlsWaiting);
        video.removeEventListener('error', onHlsError);
        video.removeAttribute('src');
        video.load();
      },
    };
  }
}
