// <pillow-incall-calendar>: the in-call booking calendar in a shadow root. See docs/widget.md.

const DAY = 86400000;
/** How far ahead the calendar goes: the in-call API's longest window. */
const AHEAD = 92;
/** Zone offsets are within 15 h of UTC: months are fetched with this margin. */
const MARGIN = 15 * 3600000;
const BASE = new URL('..', import.meta.url).href.replace(/\/$/, '');
const MINE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const SETUP = 'This calendar is not set up correctly. Please ask the agent to book for you.';

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (zone, o) => new Intl.DateTimeFormat('en-US', { timeZone: zone, ...o });
export const dateIn = (t, zone) => new Date(t).toLocaleDateString('en-CA', { timeZone: zone });
const addDays = (d, n) => new Date(Date.parse(`${d}T12:00:00Z`) + n * DAY).toISOString().slice(0, 10);
const nextMonth = (m) => addDays(`${m}-28`, 7).slice(0, 7);
/** `d` moved by `n` months, its day kept inside the month. */
const shift = (d, n) => {
	const [y, m, dd] = d.split('-').map(Number);
	return new Date(Date.UTC(y, m - 1 + n, Math.min(dd, new Date(Date.UTC(y, m + n, 0)).getUTCDate()), 12)).toISOString().slice(0, 10);
};
/** A date as words, e.g. `{ weekday: 'long' }` → "Monday". */
const day = (d, o) => fmt('UTC', o).format(new Date(`${d}T12:00:00Z`));
const LONG = { weekday: 'long', month: 'long', day: 'numeric' };
const SHORT = { weekday: 'short', month: 'short', day: 'numeric' };
/** A zone as people say it: `America/New_York` → "New York". */
export const city = (zone) => zone.split('/').pop().replace(/_/g, ' ');
export const clock = (t, zone, h24) =>
	fmt(zone, { hour: 'numeric', minute: '2-digit', hourCycle: h24 ? 'h23' : 'h12' }).format(new Date(t));

/** "today", "tomorrow", "in 3 days", "in 2 weeks": how far a day is from today. */
export const relativeDay = (n) =>
	n <= 0 ? 'today' : n === 1 ? 'tomorrow' : n < 14 ? `in ${n} days` : n < 60 ? `in ${Math.round(n / 7)} weeks` : `in ${Math.round(n / 30)} months`;

export function groupByDay(slots, zone) {
	const days = new Map();
	for (const s of slots) {
		const d = dateIn(s.start_time, zone);
		days.set(d, [...(days.get(d) || []), s]);
	}
	return [...days];
}

/** "Mon, Dec 7 at 2:30 PM your time · 5:30 PM in New York", or "… at 5:30 PM New York time". */
export function when(t, shown, business, h24 = false) {
	const other = business && business !== shown;
	const main = `${fmt(shown, SHORT).format(new Date(t))} at ${clock(t, shown, h24)} ${other && shown === MINE ? 'your time' : `${city(shown)} time`}`;
	if (!other) return main;
	const wd = dateIn(t, business) === dateIn(t, shown) ? '' : ` (${fmt(business, { weekday: 'short' }).format(new Date(t))})`;
	return `${main} · ${clock(t, business, h24)}${wd} in ${city(business)}`;
}

/** A failed request; `message` is for the caller, details go to the console. */
const fail = (code, message, status, details = {}) => Object.assign(new Error(message), { code, status, details });

export class PillowIncallCalendar extends HTMLElement {
	constructor() {
		super();
		this.attachShadow({ mode: 'open' });
		Object.assign(this, { state: 'closed', zone: MINE, h24: false, values: {}, errors: {} });
	}

	connectedCallback() {
		if (!this.dialog) {
			const link = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: new URL('pillow-incall-calendar.css', import.meta.url).href });
			const d = (this.dialog = Object.assign(document.createElement('dialog'), { className: 'pic' }));
			d.setAttribute('aria-labelledby', 'pic-title');
			const on = { cancel: (e) => e.preventDefault() || this.close(), keydown: this.#onKey, click: this.#onClick, change: this.#onChange, submit: this.#onSubmit };
			for (const [k, f] of Object.entries(on)) d.addEventListener(k, f.bind(this));
			this.shadowRoot.append(link, d);
		}
		if (this.hasAttribute('open')) this.open();
	}

	static observedAttributes = ['call-id'];

	/** While `call-id` is set, the agent may open the calendar (`show`). */
	attributeChangedCallback() {
		this.disconnectedCallback();
		const [c, k] = ['call-id', 'widget-key'].map((a) => encodeURIComponent(this.getAttribute(a) || ''));
		if (c) (this.es = new EventSource(this.#url(`/calendar/stream?callId=${c}&key=${k}`))).addEventListener('show', (e) => this.open(JSON.parse(e.data)));
	}

	disconnectedCallback() {
		this.es?.close();
	}

	/** Opens on the first day with open times; the agent's `p` sets a first day and hours. */
	open(p) {
		if (!this.dialog) return;
		performance.mark('pillow:open');
		this.measured = false;
		this.preset = p;
		this.notice = p?.note || '';
		if (!this.dialog.open) this.dialog.showModal();
		this.load();
	}

	close() {
		this.abort?.abort();
		this.state = this.dataset.state = 'closed';
		if (this.dialog?.open) this.dialog.close();
		this.dispatchEvent(new CustomEvent('pillow:close', { bubbles: true }));
	}

	get today() {
		return dateIn(Date.now(), this.zone);
	}

	get lastDay() {
		return dateIn(Date.now() + AHEAD * DAY, this.zone);
	}

	get business() {
		return this.agent?.timezone;
	}

	/** Loads months from today's until one has open times, and shows its first such day. */
	async load(focus = '[tabindex="0"]') {
		this.abort?.abort();
		const abort = (this.abort = new AbortController());
		this.slots = new Map();
		this.loaded = new Set();
		this.#show('loading');
		try {
			// The agent's appointment types, asked once: with several, the caller picks one.
			this.types = await (this.typesAsked ??= this.#call('/calendar/profile').then((p) => p.appointment_types || [], () => []));
			if (this.types.length > 1) this.type ||= this.types[0].slug;
			const from = this.preset?.from > this.today ? this.preset.from : this.today;
			for (let m = from.slice(0, 7); m <= this.lastDay.slice(0, 7); m = nextMonth(m)) {
				await this.#fetch(m, abort.signal);
				if (this.#days().some(([d]) => d >= from)) break;
			}
			const first = (this.#days().find(([d]) => d >= from) || this.#days()[0])?.[0];
			if (!first) return this.#show('empty');
			if (first.slice(0, 7) > this.today.slice(0, 7)) this.notice ||= `The first open time is on ${day(first, LONG)}.`;
			this.day = first;
			this.#show('slots', focus);
		} catch (error) {
			if (abort.signal.aborted) return;
			this.failure = error;
			this.#show('error');
		}
	}

	/** Fetches a month's slots (the month as seen in the shown zone), once. */
	async #fetch(month, signal) {
		if (this.loaded.has(month)) return;
		const from = Math.max(Date.now(), Date.parse(`${month}-01T00:00:00Z`) - MARGIN);
		const to = Math.min(Date.now() + (AHEAD + 1) * DAY, Date.parse(`${nextMonth(month)}-01T00:00:00Z`) + MARGIN);
		if (to > from) {
			const iso = (t) => encodeURIComponent(new Date(t).toISOString());
			const type = this.type ? `&appointmentType=${encodeURIComponent(this.type)}` : '';
			const data = await this.#call(`/calendar/slots?startDate=${iso(from)}&endDate=${iso(to)}${type}`, { signal });
			this.agent = data.agent;
			for (const s of data.slots) this.slots.set(s.start_time, s);
		}
		this.loaded.add(month);
	}

	#days() {
		const h = this.preset?.hours;
		const hr = (s) => parseInt(clock(s.start_time, this.business, 1));
		// Months are fetched with a margin: a day past the window's last is not offered.
		const days = groupByDay([...this.slots.values()].filter((s) => !h || (hr(s) >= h[0] && hr(s) < h[1])).sort((a, b) => a.start_time.localeCompare(b.start_time)), this.zone);
		return days.filter(([d]) => d <= this.lastDay);
	}

	#url(path) {
		return `${(this.getAttribute('api-base') || BASE).replace(/\/$/, '')}/api/v1/agents/${encodeURIComponent(this.getAttribute('agent-id') || '')}${path}`;
	}

	async #call(path, init = {}) {
		const headers = { Accept: 'application/json', ...init.headers };
		const key = this.getAttribute('widget-key');
		const token = this.getAttribute('token');
		if (key) headers['X-Pillow-Key'] = key;
		if (token) headers.Authorization = `Bearer ${token}`;
		if (init.body) headers['Content-Type'] = 'application/json';
		let response;
		try {
			response = await fetch(this.#url(path), { ...init, headers });
		} catch (e) {
			if (e.name === 'AbortError') throw e;
			throw fail('network', 'We could not reach the calendar. Please check your connection.', 0);
		}
		// A body that is not ours (a proxy's error page) is judged by its status alone.
		const body = await response.json().catch(() => null);
		if (response.ok && body?.success) return body.data;
		const { status } = response;
		const e = body?.error;
		if (e && ![401, 403, 404].includes(status)) throw fail(e.code, e.message, status, e);
		// The site's mistake (key, origin, agent) or an outage: plain words for the caller.
		console.warn(`pillow-incall-calendar: HTTP ${status}`, e || '');
		if (status >= 500 || !e) throw fail('server', 'The calendar is not answering right now. Please try again in a moment.', status);
		throw fail(e.code, SETUP, status);
	}

	#show(state, focus) {
		this.state = this.dataset.state = this.dialog.dataset.state = state;
		const agent = this.agent?.name ? ` with ${esc(this.agent.name)}` : '';
		this.dialog.innerHTML = `<div class="pic-head"><h2 id="pic-title">Book an appointment${agent}</h2>
			<button class="pic-close" data-act="close" aria-label="Close calendar">×</button></div>
			<div class="pic-body" aria-live="polite" aria-busy="${state === 'loading' || state === 'booking'}">${this.#body(state)}</div>`;
		const q = (s) => s && this.dialog.querySelector(s);
		(q(focus) || q('[aria-invalid="true"]') || q('[data-autofocus]') || q('.pic-close'))?.focus();
		if ((state === 'slots' || state === 'empty') && !this.measured) {
			this.measured = true;
			performance.mark('pillow:slots-shown');
			performance.measure('pillow:open-to-slots', 'pillow:open', 'pillow:slots-shown');
		}
	}

	#body(state) {
		const notice = this.notice ? `<p class="pic-notice" role="alert">${esc(this.notice)}</p>` : '';
		const until = `Bookings open until ${day(this.lastDay, SHORT)}.`;
		if (state === 'loading') return '<p class="pic-status" role="status">Loading available times…</p>';
		if (state === 'error')
			return `<div class="pic-error" role="alert"><p><strong>Times could not be loaded.</strong> ${esc(this.failure.message)}</p></div>
				<button class="pic-primary" data-act="retry" data-autofocus>Try again</button>`;
		if (state === 'empty')
			return `${notice}<p class="pic-empty" role="status"><strong>No open times in the next three months.</strong> ${until} Please ask the agent for another way to book.</p>`;
		if (state === 'slots') return `${notice}${this.#suggested()}${this.#tools()}${this.#grid()}<p class="pic-window">${until}</p>${this.#times()}`;
		if (state === 'form' || state === 'booking') return this.#form(state === 'booking');
		if (state === 'confirmed') return this.#done();
		return '';
	}

	#tools() {
		const all = Intl.supportedValuesOf?.('timeZone') ?? [];
		const opts = [...new Set([MINE, this.business, this.zone, ...all])].filter(Boolean).map((z) => {
			const tag = z === MINE ? ' (your time)' : z === this.business ? ' (business)' : '';
			return `<option value="${esc(z)}"${z === this.zone ? ' selected' : ''}>${esc(city(z) + tag)}</option>`;
		});
		const types = this.types?.length > 1 ? this.types.map((t) => `<option value="${esc(t.slug)}"${t.slug === this.type ? ' selected' : ''}>${esc(t.name)} · ${t.duration_min} min</option>`) : '';
		return `<div class="pic-tools">${types && `<label>Appointment <select name="type">${types.join('')}</select></label>`}<label>Time zone <select name="zone">${opts.join('')}</select></label>
			<label><input type="checkbox" name="clock"${this.h24 ? ' checked' : ''}> 24-hour clock</label></div>`;
	}

	/** The times the agent's ranking puts first (`preset.suggested`), those still open. */
	#suggested() {
		const picks = (this.preset?.suggested || []).map((p) => [p, this.slots.get(p.start_time)]).filter(([, s]) => s);
		if (!picks.length) return '';
		const why = picks[0][0].reason ? `<p class="pic-why">${esc(picks[0][0].reason)}</p>` : '';
		const items = picks.map(([, s]) => `<li><button class="pic-slot pic-sug" data-act="pick" data-slot="${esc(s.id)}">${esc(this.#when(s.start_time))}</button></li>`);
		return `<div class="pic-suggested"><h3>Suggested for you</h3>${why}<ul>${items.join('')}</ul></div>`;
	}

	/** The month grid of the ARIA date-picker pattern: days with openings marked. */
	#grid() {
		const month = this.day.slice(0, 7);
		const counts = new Map(this.#days().map(([d, s]) => [d, s.length]));
		const cells = Array(new Date(`${month}-01T12:00:00Z`).getUTCDay()).fill('<td></td>');
		for (let d = `${month}-01`; d.startsWith(month); d = addDays(d, 1)) {
			const n = counts.get(d) || 0;
			const off = d < this.today || d > this.lastDay;
			const label = `${day(d, LONG)}, ${off ? 'not bookable' : n ? `${n} open time${n > 1 ? 's' : ''}` : 'no open times'}`;
			cells.push(`<td><button class="pic-date${n ? ' pic-has' : ''}${off ? ' pic-off' : ''}" data-act="day" data-date="${d}"
				tabindex="${d === this.day ? 0 : -1}" aria-selected="${d === this.day}"${n ? '' : ' aria-disabled="true"'} aria-label="${label}">${+d.slice(8)}</button></td>`);
		}
		let rows = '';
		for (let i = 0; i < cells.length; i += 7) rows += `<tr>${cells.slice(i, i + 7).join('')}</tr>`;
		const heads = 'Su Mo Tu We Th Fr Sa'.replace(/\w+/g, '<th scope="col">$&</th>');
		const nav = (step, label, off) =>
			`<button data-act="month" data-step="${step}" aria-label="${label} month"${off ? ' disabled' : ''}>${step < 0 ? '‹' : '›'}</button>`;
		return `<div class="pic-month">${nav(-1, 'Previous', month <= this.today.slice(0, 7))}
			<h3 id="pic-month" aria-live="polite">${day(`${month}-01`, { month: 'long', year: 'numeric' })}</h3>${nav(1, 'Next', month >= this.lastDay.slice(0, 7))}</div>
			<table role="grid" aria-labelledby="pic-month"><thead><tr>${heads}</tr></thead><tbody>${rows}</tbody></table>`;
	}

	/** The chosen day's times in the shown zone, with the business's beside when it differs. */
	#times() {
		const days = this.#days();
		const slots = days.find(([d]) => d === this.day)?.[1] || [];
		const rel = relativeDay(Math.round((Date.parse(this.day) - Date.parse(this.today)) / DAY));
		const head = `<h3>${day(this.day, LONG)} · ${rel}</h3>`;
		if (!slots.length) {
			const next = days.find(([d]) => d > this.day)?.[0];
			const go = next ? `<button data-act="day" data-date="${next}">Next open day: ${day(next, SHORT)}</button>` : '';
			return `<div class="pic-times">${head}<p class="pic-none">No open times on this day.</p>${go}</div>`;
		}
		const other = this.business !== this.zone && this.business;
		const items = slots.map((s) => {
			const also = other ? `<small>${clock(s.start_time, other, this.h24)} in ${esc(city(other))}</small>` : '';
			return `<li><button class="pic-slot" data-act="pick" data-slot="${esc(s.id)}"
				aria-label="${esc(this.#when(s.start_time))}">${clock(s.start_time, this.zone, this.h24)}${also}</button></li>`;
		});
		const zone = `${other && this.zone === MINE ? 'your time' : `${city(this.zone)} time`}${other ? `; ${city(other)} time below` : ''}`;
		return `<div class="pic-times">${head}<p class="pic-zone">In ${esc(zone)}</p><ul>${items.join('')}</ul></div>`;
	}

	#when(t) {
		return when(t, this.zone, this.business, this.h24);
	}

	#field(name, label, type, required, extra = '') {
		const id = `pic-${name}`;
		const error = this.errors[name];
		const aria = `${required ? ' required' : ''}${error ? ` aria-invalid="true" aria-describedby="${id}-err"` : ''}`;
		const input =
			type === 'textarea'
				? `<textarea id="${id}" name="${name}" rows="3" maxlength="2000"${aria}>${esc(this.values[name])}</textarea>`
				: `<input id="${id}" name="${name}" type="${type}" value="${esc(this.values[name])}"${aria} ${extra}>`;
		const mark = required ? '' : ' <span class="pic-opt">(optional)</span>';
		return `<div class="pic-field"><label for="${id}">${label}${mark}</label>${input}${error ? `<p class="pic-field-error" id="${id}-err">${esc(error)}</p>` : ''}</div>`;
	}

	#form(busy) {
		const f = this.bookFailure;
		const failure = f
			? `<div class="pic-error" role="alert"><p><strong>The booking did not go through.</strong> ${esc(f.message)}</p>${f.hint ? `<p class="pic-detail">${esc(f.hint)}</p>` : ''}</div>`
			: '';
		const off = busy ? ' disabled' : '';
		return `<p class="pic-chosen">Your appointment: <strong>${esc(this.#when(this.chosen.start_time))}</strong> (${this.chosen.duration_min} min)</p>
			${failure}<form class="pic-form" novalidate>
				${this.#field('name', 'Name', 'text', true, 'autocomplete="name" maxlength="200" data-autofocus')}
				${this.#field('email', 'Email', 'email', true, 'autocomplete="email"')}
				${this.#field('phone', 'Phone', 'tel', false, 'autocomplete="tel"')}
				${this.#field('notes', 'Notes', 'textarea', false)}
				<div class="pic-actions"><button type="button" data-act="back"${off}>Back to times</button>
				<button type="submit" class="pic-primary"${off}>${busy ? 'Booking…' : 'Confirm booking'}</button></div></form>`;
	}

	/** The booking, where its details were sent, and "Add to calendar" (links from the server). */
	#done() {
		const b = this.booking;
		const row = (k, v) => (v ? `<dt>${k}</dt><dd>${esc(v)}</dd>` : '');
		const sent = Object.values(b.sentTo || {}).join(' and ');
		const cal = b.addToCalendar || {};
		const link = (k, label) => (cal[k] ? `<a href="${esc(cal[k])}"${k === 'ics' ? ' download' : ' target="_blank" rel="noopener"'}>${label}</a>` : '');
		const add = [link('ics', 'Apple Calendar (.ics)'), link('google', 'Google Calendar'), link('outlook', 'Outlook')].join('');
		return `<div class="pic-done" role="status"><h3>You're booked!</h3>
			<dl>${row('When', b.when)}${row('Length', `${b.durationMin} minutes`)}${row('With', b.hostName)}${row('Name', b.attendeeName)}
			${row('Email', b.attendeeEmail)}${row('Phone', b.attendeePhone)}${row('Confirmation code', b.confirmationCode)}</dl>
			${sent ? `<p class="pic-sent">We sent the details to ${esc(sent)}.</p>` : ''}${add ? `<p class="pic-add">Add to calendar: ${add}</p>` : ''}
			<p>Keep the confirmation code to change or cancel the appointment.</p>
			<button class="pic-primary" data-act="close" data-autofocus>${esc(this.getAttribute('done-label') || 'Back to the call')}</button></div>`;
	}

	/** Shows `date`, kept between today and the last bookable day. */
	async #goto(date, focus = '[tabindex="0"]') {
		date = date < this.today ? this.today : date > this.lastDay ? this.lastDay : date;
		try {
			await this.#fetch(date.slice(0, 7), this.abort?.signal);
		} catch (error) {
			this.failure = error;
			return this.#show('error');
		}
		this.day = date;
		this.notice = '';
		this.#show('slots', focus);
	}

	#onClick(event) {
		const t = event.target.closest('[data-act]');
		if (!t || t.disabled) return;
		const act = t.dataset.act;
		if (act === 'close') this.close();
		else if (act === 'retry') this.load();
		else if (act === 'day' && t.getAttribute('aria-disabled') !== 'true') this.#goto(t.dataset.date);
		else if (act === 'month') {
			this.#goto(shift(`${this.day.slice(0, 7)}-01`, +t.dataset.step), `[data-step="${t.dataset.step}"]`);
		} else if (act === 'pick') {
			this.chosen = [...this.slots.values()].find((s) => s.id === t.dataset.slot);
			this.bookFailure = null;
			this.errors = {};
			this.key = crypto.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
			this.#show('form');
		} else if (act === 'back') this.#show('slots', '.pic-slot');
	}

	#onChange({ target: { name, value, checked } }) {
		if (name === 'zone') {
			this.zone = value;
			this.#goto(this.day, 'select[name=zone]');
		} else if (name === 'type') {
			this.type = value;
			this.load('select[name=type]');
		} else if (name === 'clock') {
			this.h24 = checked;
			this.#show('slots', '[name=clock]');
		}
	}

	/** The date grid's keys (arrows, Home/End, PageUp/PageDown, Enter); Tab stays inside. */
	#onKey(event) {
		const cell = event.target.closest?.('.pic-date');
		if (!cell) return this.#trap(event);
		const d = cell.dataset.date;
		const wd = new Date(`${d}T12:00:00Z`).getUTCDay();
		const year = event.shiftKey ? 12 : 1;
		const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -wd, End: 6 - wd };
		const months = { PageUp: -year, PageDown: year };
		const to = event.key in moves ? addDays(d, moves[event.key]) : event.key in months ? shift(d, months[event.key]) : null;
		if (to) {
			event.preventDefault();
			this.#goto(to);
		} else if (event.key === 'Enter' || event.key === ' ') {
			event.preventDefault();
			this.dialog.querySelector('.pic-times .pic-slot')?.focus();
		} else this.#trap(event);
	}

	#trap(event) {
		if (event.key !== 'Tab') return;
		const items = [...this.dialog.querySelectorAll('a, button, select, input, textarea')].filter(
			(el) => !el.disabled && el.tabIndex >= 0,
		);
		const active = this.shadowRoot.activeElement;
		if (event.shiftKey && active === items[0]) {
			event.preventDefault();
			items.at(-1).focus();
		} else if (!event.shiftKey && active === items.at(-1)) {
			event.preventDefault();
			items[0]?.focus();
		}
	}

	/** The form's errors by field, as the server would find them. */
	validate(values) {
		const e = {};
		const { name, email, phone } = values;
		const digits = phone.replace(/\D/g, '').length;
		if (!name) e.name = 'Please enter your name.';
		if (!email) e.email = 'Please enter your email address.';
		else if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) e.email = 'Please enter a valid email address, like name@example.com.';
		if (phone && (!/^\+?[\d\s().-]+$/.test(phone) || digits < 7 || digits > 15))
			e.phone = 'Please enter a phone number such as +1 234 567 8900, or leave it empty.';
		return e;
	}

	async #onSubmit(event) {
		event.preventDefault();
		const form = new FormData(event.target);
		const v = (this.values = Object.fromEntries(['name', 'email', 'phone', 'notes'].map((k) => [k, String(form.get(k) ?? '').trim()])));
		this.errors = this.validate(v);
		this.bookFailure = null;
		if (Object.keys(this.errors).length) return this.#show('form');
		this.#show('booking');
		try {
			const data = await this.#call('/calendar/book', {
				method: 'POST',
				headers: { 'Idempotency-Key': this.key },
				body: JSON.stringify({
					slotId: this.chosen.id,
					attendeeName: v.name,
					attendeeEmail: v.email,
					attendeePhone: v.phone || undefined,
					notes: v.notes || undefined,
					callId: this.getAttribute('call-id') || undefined,
				}),
			});
			const b = data.booking;
			// `when` names the zones as the caller saw them; `localTimeWithZone`, the business's time.
			this.booking = { ...b, when: this.#when(b.startTime), localTimeWithZone: `${b.localTime} ${city(b.timezone || 'UTC')} time` };
			this.slots.delete(this.chosen.start_time);
			this.#show('confirmed');
			this.dispatchEvent(new CustomEvent('pillow:booked', { bubbles: true, detail: this.booking }));
		} catch (error) {
			this.#failed(error);
		}
	}

	#failed(error) {
		if (['slot_unavailable', 'invalid_slot', 'too_soon'].includes(error.code)) {
			this.notice = 'Sorry, that time was just taken. Here are the times still open; please pick another.';
			return this.load();
		}
		// The server's field names are the form's with `attendee` before them.
		const field = error.details?.field?.replace(/^attendee/, '').toLowerCase();
		if (field in this.values) this.errors = { [field]: error.message };
		else {
			const retry = error.code === 'network' || error.code === 'server';
			this.bookFailure = { message: error.message, hint: retry ? 'Nothing was booked twice: pressing Confirm again is safe.' : '' };
		}
		this.#show('form');
	}
}

if (!customElements.get('pillow-incall-calendar')) customElements.define('pillow-incall-calendar', PillowIncallCalendar);
