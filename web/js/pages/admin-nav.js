// The Admin section's own navigation: Users, Rooms.

import { h } from '../dom.js';

const ITEMS = [
  ['users', 'Users', '#/admin/users'],
  ['rooms', 'Rooms', '#/admin/rooms'],
];

export function adminNav(current) {
  return h('nav', { class: 'subnav', 'aria-label': 'Admin' },
    h('ul', null, ITEMS.map(([key, label, href]) =>
      h('li', null, h('a', { href, 'aria-current': key === current ? 'page' : null }, label)))));
}
