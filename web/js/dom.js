// Tiny DOM helpers shared by the pages. Text always goes in as text nodes,
// so names typed by users can never become markup.

// h('button', { type: 'button', onclick: fn }, 'Save')
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [key, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (key.startsWith('on') && typeof v === 'function') el.addEventListener(key.slice(2), v);
    else if (key === 'value') value = v; // set after the options of a <select> exist
    else el.setAttribute(key, v === true ? '' : String(v));
  }
  el.append(...children.flat(Infinity).filter((c) => c != null && c !== false));
  if (value !== undefined) el.value = value;
  return el;
}

// A labelled form field with a slot for its own error text.
export function field(label, input) {
  const error = h('p', { class: 'field-error', id: `${input.id}-error` });
  input.setAttribute('aria-describedby', error.id);
  return {
    el: h('div', { class: 'field' }, h('label', { for: input.id }, label), input, error),
    input,
    setError(text) {
      error.textContent = text || '';
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
  };
}

// Put a form in its waiting state (or out of it); returns nothing.
export function busy(form, on) {
  form.setAttribute('aria-busy', on ? 'true' : 'false');
  for (const b of form.querySelectorAll('button')) b.disabled = on;
}

export function formatTime(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
