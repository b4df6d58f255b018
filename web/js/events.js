// The events WebSocket (/api/v1/events): one connection per signed-in
// session, authenticated by the session cookie. Each JSON message goes to the
// listeners of its "type". When the socket drops it comes back with
// exponential back-off; every (re)connection starts with a "hello", which
// pages use to reload what they may have missed.

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const SESSION_ENDED = 4001; // close code: logged out or disabled

const listeners = new Map(); // type -> Set of functions
let socket = null;
let timer = null;
let delay = MIN_DELAY_MS;
let wanted = false;
let sessionEndedHandler = null;

// Listen to messages of one type; returns the function that stops it.
export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

export function start(onSessionEnded) {
  sessionEndedHandler = onSessionEnded;
  if (wanted) return;
  wanted = true;
  delay = MIN_DELAY_MS;
  connect();
}

export function stop() {
  wanted = false;
  clearTimeout(timer);
  timer = null;
  const ws = socket;
  socket = null;
  if (!ws) return;
  ws.onclose = ws.onmessage = ws.onerror = null;
  // Closing a socket that is still connecting makes the browser log an
  // error; let it open first, then close it.
  if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
  else ws.close(1000);
}

function connect() {
  timer = null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/api/v1/events`);
  socket = ws;
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return; // not ours to understand
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'hello') delay = MIN_DELAY_MS;
    const set = listeners.get(msg.type);
    // A listener may remove others (a page that closes); skip those.
    for (const fn of [...(set || [])]) if (set.has(fn)) fn(msg);
  };
  ws.onclose = (ev) => {
    if (socket !== ws) return;
    socket = null;
    if (!wanted) return;
    if (ev.code === SESSION_ENDED) {
      wanted = false;
      if (sessionEndedHandler) sessionEndedHandler();
      return;
    }
    // Jitter keeps a room full of consoles from reconnecting in lock-step.
    timer = setTimeout(connect, delay * (0.75 + Math.random() * 0.5));
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  };
}
