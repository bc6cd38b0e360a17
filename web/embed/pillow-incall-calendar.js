// <pillow-incall-calendar>: the in-call booking calendar as a web component.
// Plain ES module, no build step, no dependencies. Embed with:
//   <script type="module" src="https://calendar.example/embed/pillow-incall-calendar.js"></script>
//   <pillow-incall-calendar agent-id="…" widget-key="pk_…"></pillow-incall-calendar>
// then call element.open(). See docs/widget.md for attributes, events and theming.

const RANGES = [
  ['7', '1 week'],
  ['14', '2 weeks'],
  ['31', '1 month'],
  ['92', '3 months'],
];
const DAY_MS = 86400000;
const SCRIPT_BASE = new URL('..', import.meta.url).href.replace(/\/$/, '');
let uid = 0;

const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A date `YYYY-MM-DD` as seen in `zone` at instant `t`. */
const dateIn = (t, zone) =>
  new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);

/** Whole days from `from` to `to`, two `YYYY-MM-DD` dates. */
const daysBetween = (from, to) => Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS);

/** "today", "tomorrow", "in 3 days", "in 2 weeks": how far a day is from today. */
export function relativeDay(days) {
  if (days <= 0) return 'today';
  if (days === 1) return 'tomorrow';
  if (days < 14) return `in ${days} days`;
  if (days < 60) return `in ${Math.round(days / 7)} weeks`;
  return `in ${Math.round(days / 30)} months`;
}

/** Slots grouped by their local date, in order. */
export function groupByDay(slots) {
  const days = new Map();
  for (const s of slots) {
    if (!days.has(s.local_date)) days.set(s.local_date, []);
    days.get(s.local_date).push(s);
  }
  return [...days];
}

/** An error a request ended with, as the widget shows it. */
class CallError extends Error {
  constructor(code, message, status, details = {}) {
    super(message);
    Object.assign(this, { code, status, details });
  }
}

export class PillowIncallCalendar extends HTMLElement {
  static observedAttributes = ['agent-id'];

  constructor() {
    super();
    this.state = 'closed';
    this.range = '7';
    this.slots = [];
    this.agent = null;
    this.chosen = null;
    this.notice = '';
    this.values = {};
    this.errors = {};
  }

  get apiBase() {
    return (this.getAttribute('api-base') || SCRIPT_BASE).replace(/\/$/, '');
  }

  connectedCallback() {
    this.id ||= `pillow-cal-${++uid}`;
    if (!document.querySelector('link[data-pillow-incall]')) {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = new URL('pillow-incall-calendar.css', import.meta.url).href;
      link.dataset.pillowIncall = '';
      document.head.append(link);
    }
    if (!this.dialog) {
      this.dialog = document.createElement('dialog');
      this.dialog.className = 'pic';
      this.dialog.setAttribute('aria-labelledby', `${this.id}-title`);
      this.dialog.addEventListener('cancel', (e) => {
        e.preventDefault();
        this.close();
      });
      this.dialog.addEventListener('keydown', (e) => this.#trapFocus(e));
      this.dialog.addEventListener('click', (e) => this.#onClick(e));
      this.dialog.addEventListener('change', (e) => this.#onChange(e));
      this.dialog.addEventListener('submit', (e) => this.#onSubmit(e));
      this.append(this.dialog);
    }
    if (this.hasAttribute('open')) this.open();
  }

  /** Opens the calendar and loads slots for the chosen range. */
  open() {
    if (!this.dialog) return;
    performance.clearMarks('pillow:open');
    performance.mark('pillow:open');
    this.opened = performance.now();
    this.measured = false;
    this.notice = '';
    this.chosen = null;
    if (!this.dialog.open) this.dialog.showModal();
    this.load();
  }

  /** Closes the calendar; the call goes on. */
  close() {
    this.abort?.abort();
    this.state = 'closed';
    this.dataset.state = 'closed';
    if (this.dialog?.open) this.dialog.close();
    this.dispatchEvent(new CustomEvent('pillow:close', { bubbles: true }));
  }

  /** Loads the slots of the current range. */
  async load() {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    this.#show('loading');
    const today = new Date();
    const zone = this.agent?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
    const start = dateIn(today, zone);
    const end = dateIn(new Date(today.getTime() + (Number(this.range) - 1) * DAY_MS), zone);
    try {
      const data = await this.#call(
        `/calendar/slots?startDate=${start}&endDate=${end}`,
        { signal: abort.signal },
      );
      if (abort.signal.aborted) return;
      this.agent = data.agent;
      this.slots = data.slots;
      this.#show(this.slots.length ? 'slots' : 'empty');
    } catch (error) {
      if (abort.signal.aborted) return;
      this.failure = error;
      this.#show('error');
    }
  }

  async #call(path, init = {}) {
    const headers = { Accept: 'application/json', ...(init.headers || {}) };
    const key = this.getAttribute('widget-key');
    const token = this.getAttribute('token');
    if (key) headers['X-Pillow-Key'] = key;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (init.body) headers['Content-Type'] = 'application/json';
    const agent = encodeURIComponent(this.getAttribute('agent-id') || '');
    let response;
    try {
      response = await fetch(`${this.apiBase}/api/v1/agents/${agent}${path}`, { ...init, headers });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new CallError('network', 'We could not reach the calendar. Check your connection.', 0);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // An answer that is not ours (a proxy's error page): reported below by its status.
    }
    if (response.ok && body?.success) return body.data;
    const error = body?.error;
    if (error) throw new CallError(error.code, error.message, response.status, error);
    throw new CallError('server', `The calendar is unavailable right now (HTTP ${response.status}).`, response.status);
  }

  #show(state) {
    this.state = state;
    this.dataset.state = state;
    this.dialog.dataset.state = state;
    const agent = this.agent?.name ? ` with ${esc(this.agent.name)}` : '';
    this.dialog.innerHTML = `
      <div class="pic-head">
        <h2 id="${this.id}-title">Book an appointment${agent}</h2>
        <button type="button" class="pic-close" data-act="close" aria-label="Close calendar">×</button>
      </div>
      <div class="pic-body" aria-live="polite" aria-busy="${state === 'loading' || state === 'booking'}">
        ${this.#body(state)}
      </div>`;
    const focus =
      this.dialog.querySelector('[aria-invalid="true"]') ||
      this.dialog.querySelector('[data-autofocus]') ||
      this.dialog.querySelector('.pic-close');
    focus?.focus();
    if (state === 'slots' || state === 'empty') this.#measure();
  }

  #measure() {
    if (this.measured) return;
    this.measured = true;
    performance.mark('pillow:slots-shown');
    performance.measure('pillow:open-to-slots', 'pillow:open', 'pillow:slots-shown');
    this.openToSlotsMs = performance.now() - this.opened;
  }

  #rangeSelect() {
    const options = RANGES.map(
      ([v, label]) => `<option value="${v}"${v === this.range ? ' selected' : ''}>${label}</option>`,
    ).join('');
    return `<label class="pic-range">Show times for the next
      <select name="range" data-autofocus>${options}</select></label>`;
  }

  #body(state) {
    const tz = this.agent?.timezone;
    const zoneNote = tz ? `<p class="pic-zone">Times are in ${esc(tz.replace(/_/g, ' '))}.</p>` : '';
    const notice = this.notice ? `<p class="pic-notice" role="alert">${esc(this.notice)}</p>` : '';
    switch (state) {
      case 'loading':
        return `${this.#rangeSelect()}<p class="pic-status" role="status">Loading available times…</p>`;
      case 'error': {
        const f = this.failure;
        return `<div class="pic-error" role="alert"><p><strong>Times could not be loaded.</strong> ${esc(f.message)}</p>
          <p class="pic-detail">Error: ${esc(f.code)}${f.status ? ` (HTTP ${f.status})` : ''}</p></div>
          <button type="button" class="pic-primary" data-act="retry" data-autofocus>Try again</button>`;
      }
      case 'empty': {
        const next = RANGES.find(([v]) => Number(v) > Number(this.range));
        const suggest = next
          ? `<button type="button" class="pic-primary" data-act="range" data-range="${next[0]}">Look ${next[1]} ahead</button>`
          : '<p>Please call back later or ask the agent for another way to book.</p>';
        return `${notice}${this.#rangeSelect()}<div class="pic-empty" role="status">
          <p><strong>No open times in this range.</strong> Try a longer range.</p>${suggest}</div>`;
      }
      case 'slots':
        return `${notice}${this.#rangeSelect()}${zoneNote}<div class="pic-days">${this.#days(tz)}</div>`;
      case 'form':
      case 'booking':
        return this.#form(state === 'booking');
      case 'confirmed':
        return this.#confirmation();
      default:
        return '';
    }
  }

  #days(tz) {
    const time = new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: 'numeric', minute: '2-digit' });
    const dayName = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', weekday: 'long', month: 'short', day: 'numeric' });
    const today = dateIn(new Date(), tz);
    return groupByDay(this.slots)
      .map(([date, slots]) => {
        const heading = `${dayName.format(new Date(`${date}T12:00:00Z`))}`;
        const rel = relativeDay(daysBetween(today, date));
        const buttons = slots
          .map(
            (s) => `<li><button type="button" class="pic-slot" data-act="pick" data-slot="${esc(s.id)}"
              aria-label="${esc(s.local_time)}">${esc(time.format(new Date(s.start_time)))}</button></li>`,
          )
          .join('');
        return `<section class="pic-day" aria-label="${esc(heading)}, ${rel}">
          <h3>${esc(heading)} <span class="pic-rel">${rel}</span></h3><ul>${buttons}</ul></section>`;
      })
      .join('');
  }

  #field(name, label, type, required, extra = '') {
    const id = `${this.id}-${name}`;
    const error = this.errors[name];
    const input =
      type === 'textarea'
        ? `<textarea id="${id}" name="${name}" rows="3" maxlength="2000"${error ? ` aria-invalid="true" aria-describedby="${id}-err"` : ''}>${esc(this.values[name])}</textarea>`
        : `<input id="${id}" name="${name}" type="${type}" value="${esc(this.values[name])}"${required ? ' aria-required="true"' : ''}${error ? ` aria-invalid="true" aria-describedby="${id}-err"` : ''} ${extra}>`;
    return `<div class="pic-field"><label for="${id}">${label}${required ? ' <span aria-hidden="true">*</span>' : ' <span class="pic-opt">(optional)</span>'}</label>
      ${input}${error ? `<p class="pic-field-error" id="${id}-err">${esc(error)}</p>` : ''}</div>`;
  }

  #form(busy) {
    const s = this.chosen;
    const failure = this.bookFailure
      ? `<div class="pic-error" role="alert"><p><strong>The booking did not go through.</strong> ${esc(this.bookFailure.message)}</p>
         <p class="pic-detail">${esc(this.bookFailure.hint)}</p></div>`
      : '';
    return `<p class="pic-chosen">Your time: <strong>${esc(s.local_time)}</strong> (${s.duration_min} min)</p>
      ${failure}
      <form class="pic-form" novalidate>
        ${this.#field('name', 'Name', 'text', true, 'autocomplete="name" maxlength="200" data-autofocus')}
        ${this.#field('email', 'Email', 'email', true, 'autocomplete="email"')}
        ${this.#field('phone', 'Phone', 'tel', false, 'autocomplete="tel"')}
        ${this.#field('notes', 'Notes', 'textarea', false)}
        <div class="pic-actions">
          <button type="button" data-act="back"${busy ? ' disabled' : ''}>Back to times</button>
          <button type="submit" class="pic-primary"${busy ? ' disabled' : ''}>${busy ? 'Booking…' : 'Confirm booking'}</button>
        </div>
      </form>`;
  }

  #confirmation() {
    const b = this.booking;
    const row = (k, v) => (v ? `<dt>${k}</dt><dd>${esc(v)}</dd>` : '');
    return `<div class="pic-done" role="status">
      <p class="pic-done-title"><strong>You're booked!</strong></p>
      <dl>${row('When', b.localTime)}${row('Length', `${b.durationMin} minutes`)}${row('With', b.hostName)}
      ${row('Name', b.attendeeName)}${row('Email', b.attendeeEmail)}${row('Phone', b.attendeePhone)}
      ${row('Confirmation code', b.confirmationCode)}${row('Booking id', b.bookingId)}</dl>
      <p>Keep the confirmation code to change or cancel the appointment.</p>
      <button type="button" class="pic-primary" data-act="close" data-autofocus>${esc(this.getAttribute('done-label') || 'Back to the call')}</button></div>`;
  }

  #onClick(event) {
    const target = event.target.closest('[data-act]');
    if (!target || target.disabled) return;
    const act = target.dataset.act;
    if (act === 'close') this.close();
    else if (act === 'retry') this.load();
    else if (act === 'range') {
      this.range = target.dataset.range;
      this.notice = '';
      this.load();
    } else if (act === 'pick') {
      this.chosen = this.slots.find((s) => s.id === target.dataset.slot);
      this.bookFailure = null;
      this.errors = {};
      this.idempotencyKey = crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
      this.#show('form');
    } else if (act === 'back') {
      this.#show(this.slots.length ? 'slots' : 'empty');
    }
  }

  #onChange(event) {
    if (event.target.name === 'range') {
      this.range = event.target.value;
      this.notice = '';
      this.load();
    }
  }

  /** Checks the form as the server would; answers the errors by field. */
  validate(values) {
    const errors = {};
    if (!values.name.trim()) errors.name = 'Please enter your name.';
    if (!values.email.trim()) errors.email = 'Please enter your email address.';
    else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email.trim()))
      errors.email = 'Please enter a valid email address, like name@example.com.';
    const digits = values.phone.replace(/\D/g, '').length;
    if (values.phone.trim() && (!/^\+?[\d\s().-]+$/.test(values.phone.trim()) || digits < 7 || digits > 15))
      errors.phone = 'Please enter a phone number such as +1 234 567 8900, or leave it empty.';
    return errors;
  }

  async #onSubmit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    this.values = Object.fromEntries(['name', 'email', 'phone', 'notes'].map((k) => [k, String(form.get(k) ?? '')]));
    this.errors = this.validate(this.values);
    this.bookFailure = null;
    if (Object.keys(this.errors).length) return this.#show('form');
    this.#show('booking');
    const v = this.values;
    try {
      const data = await this.#call('/calendar/book', {
        method: 'POST',
        headers: { 'Idempotency-Key': this.idempotencyKey },
        body: JSON.stringify({
          slotId: this.chosen.id,
          attendeeName: v.name.trim(),
          attendeeEmail: v.email.trim(),
          attendeePhone: v.phone.trim() || undefined,
          notes: v.notes.trim() || undefined,
        }),
      });
      this.booking = data.booking;
      this.#show('confirmed');
      this.dispatchEvent(new CustomEvent('pillow:booked', { bubbles: true, detail: data.booking }));
    } catch (error) {
      this.#bookingFailed(error);
    }
  }

  #bookingFailed(error) {
    if (error.code === 'slot_unavailable' || error.code === 'invalid_slot' || error.code === 'too_soon') {
      this.notice = 'Sorry, that time was just taken. Here are the times still open; please pick another.';
      this.load();
      return;
    }
    const field = { attendeeName: 'name', attendeeEmail: 'email', attendeePhone: 'phone', notes: 'notes' }[error.details?.field];
    if (field) {
      this.errors = { [field]: error.message };
      this.#show('form');
      return;
    }
    const hint =
      error.code === 'network' || error.code === 'server'
        ? 'Nothing was booked twice: pressing Confirm again is safe.'
        : error.code === 'rate_limited'
          ? 'Please wait a minute before trying again.'
          : `If this keeps happening, ask the agent to book for you (error: ${error.code}).`;
    this.bookFailure = { message: error.message, hint };
    this.#show('form');
  }

  /** Keeps Tab and Shift+Tab inside the dialog. */
  #trapFocus(event) {
    if (event.key !== 'Tab') return;
    const items = [...this.dialog.querySelectorAll('button, select, input, textarea, [tabindex]:not([tabindex="-1"])')].filter(
      (el) => !el.disabled && el.offsetParent !== null,
    );
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }
}

if (!customElements.get('pillow-incall-calendar')) {
  customElements.define('pillow-incall-calendar', PillowIncallCalendar);
}
