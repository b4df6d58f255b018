// Pages whose tools come in later versions: each says what it will hold.

import { h } from '../dom.js';

const PAGES = {
  observe: {
    title: 'Observe',
    lead: 'Live rooms',
    text: 'The rooms of this site will appear here as a grid: every camera of each room live, whether the room is recording, and large controls to start, pause and stop a recording and to drop a marker.',
  },
  review: {
    title: 'Review',
    lead: 'Recordings to review',
    text: 'Recorded sessions will be listed here, newest first, to search by room, title and date; to play every camera of a session side by side; to add markers, cut clips and share them.',
  },
  schedule: {
    title: 'Schedule',
    lead: 'Scheduled sessions',
    text: 'Sessions booked ahead will be listed here by room and time, so that recordings start and stop on their own and carry the details filled in beforehand.',
  },
  upload: {
    title: 'Upload',
    lead: 'Recordings from phones',
    text: 'Sessions recorded offline on a phone will be sent in here. Uploads resume where they stopped and are imported as recordings as they are, without re-encoding.',
  },
};

export function placeholderPage(name) {
  const p = PAGES[name];
  return (main) => {
    main.append(h('section', { class: 'page' },
      h('h1', { tabindex: '-1' }, p.title),
      h('div', { class: 'panel placeholder' },
        h('h2', null, p.lead),
        h('p', null, p.text),
        h('p', { class: 'muted' }, 'This part of Vigil is not in this version yet.'))));
  };
}
