// Building the page: elements from data, always as text (never parsed as HTML), and the few
// shapes every page shows (tables, badges, times, notices).

/** An element with attributes (`onclick` etc. become listeners) and children (strings become text). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function badge(text) {
  return el('span', { class: `badge ${text}` }, text);
}

export function when(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString();
}

export function ms(value) {
  if (value === null || value === undefined) return '–';
  if (value >= 60000) return `${(value / 60000).toFixed(1)} min`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  return `${Math.round(value)} ms`;
}

export function percent(rate) {
  return rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)} %`;
}

/** A table of `rows`; `columns` are `[heading, row => cell]`; `onRow` makes rows links. */
export function table(columns, rows, onRow) {
  const head = el('tr', {}, columns.map(([heading]) => el('th', {}, heading)));
  const body = rows.map((row) =>
    el('tr', { class: onRow ? 'link' : null, onclick: onRow ? () => onRow(row) : null }, columns.map(([, cell]) => el('td', {}, cell(row)))),
  );
  const empty = rows.length === 0 ? el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, 'Nothing yet.')) : null;
  return el('table', {}, el('thead', {}, head), el('tbody', {}, body, empty));
}

export function notice(kind, text) {
  return el('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Replaces what `main` shows. */
export function show(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false));
}

/** A page-level error (the API's `detail`), in place of the page. */
export function failed(error) {
  show(notice('error', error.message || String(error)));
}
