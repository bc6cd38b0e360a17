//! The defects a caller met in the in-call widget and pages (measured in Chromium at 1280 and
//! 390 px), each with the test that failed before its fix; and the date picker, the caller's
//! zone and the hosted page's self-service changes that replaced them.

use super::*;

/// A server and a browser `width` px wide whose clock is in `zone`, or `None` (skipped).
async fn setup_in(
    prefix: &'static str,
    width: u32,
    zone: Option<&str>,
) -> Option<(tokio::sync::MutexGuard<'static, ()>, Server, Browser)> {
    let (chrome, driver) = browser_binaries()?;
    let guard = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let height = if width < 600 { 844 } else { 900 };
    let browser = Browser::start_in(&chrome, &driver, prefix, width, height, zone).await;
    Some((guard, server, browser))
}

/// Whether the element `css` (page or widget) takes no room and is not displayed.
const GONE: &str = "(css) => { const e = $q(css); return getComputedStyle(e).display === 'none' && e.getBoundingClientRect().width === 0; }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_the_call_card_fits_and_book_appointment_shows_only_during_the_call() {
    let Some((_guard, server, browser)) = setup_in("phone-call", 390, None).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser
        .c()
        .goto(&format!(
            "{}/demo/call?agent={agent}&key={key}",
            server.base
        ))
        .await
        .unwrap();
    browser
        .until("customElements.get('pillow-incall-calendar') && document.getElementById('start')")
        .await;
    // Idle: the button is neither shown nor clickable.
    assert_eq!(
        browser.js(&format!("return ({GONE})('#book');")).await,
        json!(true),
        "Book Appointment shows before the call"
    );
    browser.js("document.getElementById('book').click();").await;
    assert_eq!(
        browser
            .js("return $q('pillow-incall-calendar').dataset.state || 'closed'")
            .await,
        json!("closed"),
        "a click while idle opened the calendar"
    );
    // The call card fits the 390 px screen.
    assert_eq!(browser.js("return window.innerWidth").await, json!(390));
    let card = browser
        .js("const r = $q('.call').getBoundingClientRect(); return {left: r.left, right: r.right, width: window.innerWidth, scroll: document.documentElement.scrollWidth};")
        .await;
    assert!(card["left"].as_f64().unwrap() >= 0.0, "{card}");
    assert!(
        card["right"].as_f64().unwrap() <= card["width"].as_f64().unwrap(),
        "{card}"
    );
    assert!(
        card["scroll"].as_f64().unwrap() <= card["width"].as_f64().unwrap(),
        "{card}"
    );
    browser.shot("01-idle").await;

    browser.click("#start").await;
    browser
        .until("document.body.dataset.call === 'connected'")
        .await;
    assert_eq!(
        browser.js(&format!("return ({GONE})('#book');")).await,
        json!(false)
    );
    browser.shot("02-connected").await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    let fits = browser
        .js("const r = $q('dialog').getBoundingClientRect(); const g = $q('table').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && g.right <= r.right;")
        .await;
    assert_eq!(fits, json!(true), "the date picker fits the phone");
    browser.shot("03-slots").await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    browser.shot("04-form").await;
    browser.type_into("input[name=name]", "Mae Jemison").await;
    browser
        .type_into("input[name=email]", "mae@example.com")
        .await;
    browser.click("button[type=submit]").await;
    browser.state_is("confirmed").await;
    browser.shot("05-confirmed").await;
    browser.click(".pic-done [data-act=close]").await;
    browser.click("#end").await;
    browser
        .until("document.body.dataset.call === 'ended'")
        .await;
    assert_eq!(
        browser.js(&format!("return ({GONE})('#book');")).await,
        json!(true),
        "Book Appointment shows after the call"
    );
    browser.shot("06-ended").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokyo_caller_sees_the_agents_today_in_their_own_time_with_new_york_beside() {
    let Some((_guard, server, browser)) = setup_in("tokyo", 1280, Some("Asia/Tokyo")).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    // The agent's soonest open time, as the API gives it.
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{agent}/calendar/slots"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let first = body["data"]["slots"][0]["start_time"]
        .as_str()
        .unwrap()
        .to_string();

    browser.connected_call(&server, &agent, &key).await;
    assert_eq!(
        browser
            .js("return Intl.DateTimeFormat().resolvedOptions().timeZone")
            .await,
        json!("Asia/Tokyo")
    );
    browser.click("#book").await;
    browser.state_is("slots").await;
    // The first day shown holds the agent's soonest time, first.
    let shown_first = browser
        .js(&format!(
            "const w = $q('pillow-incall-calendar'); return w.slots.get({first:?})?.id === $q('.pic-slot').dataset.slot;"
        ))
        .await;
    assert_eq!(shown_first, json!(true), "the agent's today is missing");
    // Times in the caller's zone, New York's beside, the zone said in words.
    assert!(browser.text(".pic-zone").await.contains("your time"));
    let slot = browser.text(".pic-slot").await;
    assert!(slot.contains("in New York"), "{slot}");
    let label = browser
        .js("return $q('.pic-slot').getAttribute('aria-label')")
        .await;
    assert!(label.as_str().unwrap().contains("your time · "), "{label}");
    browser.shot("01-tokyo-slots").await;

    // The zone switcher and the 24-hour clock.
    browser
        .find("select[name=zone]")
        .await
        .select_by_value("America/New_York")
        .await
        .unwrap();
    browser
        .until("$q('.pic-zone')?.textContent.includes('New York time') && !$q('.pic-slot small')")
        .await;
    browser.click("input[name=clock]").await;
    browser
        .until("/^\\d{1,2}:\\d{2}$/.test($q('.pic-slot').textContent.trim())")
        .await;
    browser.shot("02-new-york-24-hour").await;
    browser
        .find("select[name=zone]")
        .await
        .select_by_value("Asia/Tokyo")
        .await
        .unwrap();
    browser
        .until("$q('.pic-zone')?.textContent.includes('your time')")
        .await;

    // The form, the confirmation and the call's caption all name both zones.
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    let chosen = browser.text(".pic-chosen strong").await;
    assert!(
        chosen.contains("your time") && chosen.contains("in New York"),
        "{chosen}"
    );
    browser.type_into("input[name=name]", "Yuki Tanaka").await;
    browser
        .type_into("input[name=email]", "yuki@example.com")
        .await;
    browser.click("button[type=submit]").await;
    browser.state_is("confirmed").await;
    let when = browser
        .js("return [...$qa('.pic-done dt')].find(d => d.textContent === 'When').nextElementSibling.textContent")
        .await;
    assert_eq!(when.as_str().unwrap(), chosen);
    browser.shot("03-tokyo-confirmed").await;
    browser.click(".pic-done [data-act=close]").await;
    browser
        .until("document.getElementById('captions').textContent.includes('in New York')")
        .await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_is_a_date_grid_with_one_days_times_and_the_booking_window_end_is_said() {
    let Some((_guard, server, browser)) = setup_in("date-grid", 1280, None).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    // One day's times (16 half hours at most), never a month of buttons.
    let slots = browser.count(".pic-slot").await;
    assert!((1..=16).contains(&slots), "{slots} slot buttons");
    let dialog_height = browser
        .js("return $q('dialog').scrollHeight")
        .await
        .as_f64()
        .unwrap();
    assert!(
        dialog_height < 1400.0,
        "the dialog is {dialog_height} px tall"
    );
    let until = browser.text(".pic-window").await;
    assert!(until.contains("Bookings open until"), "{until}");
    // Forward to the last month: then no further, and days past the window are not bookable.
    let next = "$q('[data-act=month][data-step=\"1\"]')";
    for _ in 0..5 {
        if browser.js(&format!("return {next}.disabled")).await == json!(true) {
            break;
        }
        let month = browser.text("#pic-month").await;
        browser.click("[data-act=month][data-step=\"1\"]").await;
        browser
            .until(&format!(
                "$q('#pic-month') && $q('#pic-month').textContent !== {month:?}"
            ))
            .await;
    }
    assert_eq!(
        browser.js(&format!("return {next}.disabled")).await,
        json!(true)
    );
    let past_window = browser
        .js("const w = $q('pillow-incall-calendar'); const days = $qa('.pic-date'); \
             const after = days.filter(b => b.dataset.date > w.lastDay); \
             return after.every(b => b.classList.contains('pic-off') && b.getAttribute('aria-disabled') === 'true' && !b.classList.contains('pic-has')) \
                 && (after.length > 0 || days.at(-1).dataset.date === w.lastDay);")
        .await;
    assert_eq!(past_window, json!(true));
    browser.shot("01-last-month").await;

    // An agent with nothing in three months says so, with the window's end.
    let (busy, busy_key) = server.agent("Far Desk", "far@clinic.test", 100).await;
    browser.connected_call(&server, &busy, &busy_key).await;
    browser.click("#book").await;
    browser.state_is("empty").await;
    let empty = browser.text(".pic-empty").await;
    assert!(
        empty.contains("next three months") && empty.contains("open until"),
        "{empty}"
    );
    browser.shot("02-nothing-in-three-months").await;
    browser.finish().await;
}

/// Presses `key` in the date grid and waits for `date` to be the focused, chosen day.
async fn press(browser: &Browser, key: &str, date: String) {
    browser.keys(key).await;
    browser
        .until(&format!(
            "$active().dataset.date === '{date}' && $active().getAttribute('aria-selected') === 'true'"
        ))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_date_picker_follows_the_aria_keys() {
    let Some((_guard, server, browser)) = setup_in("date-keys", 1280, None).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    browser.until("$active().dataset.act === 'day'").await;
    let start = browser.active().await["date"].as_str().unwrap().to_string();
    let day = |offset: i64| -> String {
        let date: jiff::civil::Date = start.parse().unwrap();
        date.checked_add(jiff::Span::new().days(offset))
            .unwrap()
            .to_string()
    };
    press(&browser, &Key::Right, day(1)).await;
    press(&browser, &Key::Left, day(0)).await;
    press(&browser, &Key::Down, day(7)).await;
    press(&browser, &Key::Down, day(14)).await;
    press(&browser, &Key::Up, day(7)).await;
    let weekday = i64::from(
        day(7)
            .parse::<jiff::civil::Date>()
            .unwrap()
            .weekday()
            .to_sunday_zero_offset(),
    );
    press(&browser, &Key::Home, day(7 - weekday)).await;
    press(&browser, &Key::End, day(7 - weekday + 6)).await;
    // PageDown: the same day of the next month; PageUp: back.
    let week_end: jiff::civil::Date = day(7 - weekday + 6).parse().unwrap();
    let next_month = week_end
        .checked_add(jiff::Span::new().months(1))
        .unwrap()
        .to_string();
    let back = next_month
        .parse::<jiff::civil::Date>()
        .unwrap()
        .checked_sub(jiff::Span::new().months(1))
        .unwrap();
    press(&browser, &Key::PageDown, next_month).await;
    press(&browser, &Key::PageUp, back.to_string()).await;
    browser.shot("01-keyboard-moved").await;
    // The times follow the chosen day; Enter goes to them, Enter picks one.
    browser.keys(&Key::Enter).await;
    browser.until("$active().dataset.act === 'pick'").await;
    browser.keys(&Key::Enter).await;
    browser.state_is("form").await;
    let chosen = browser.text(".pic-chosen").await;
    let spoken = back.strftime("%b %-d").to_string();
    assert!(chosen.contains(&spoken), "{chosen} is not on {spoken}");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_styles_do_not_reach_into_the_widget() {
    let Some((_guard, server, browser)) = setup_in("isolation", 1280, None).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    browser
        .c()
        .goto(&format!("{}/book/{agent}?key={key}", server.base))
        .await
        .unwrap();
    browser
        .until("customElements.get('pillow-incall-calendar')")
        .await;
    // A page with heavy-handed styles of its own.
    browser
        .js("document.head.insertAdjacentHTML('beforeend', '<style>button { background: rgb(255, 0, 0) !important; } section, td, li { padding: 40px !important; } h3 { font-size: 60px !important; }</style>');")
        .await;
    browser.click("#open").await;
    browser.state_is("slots").await;
    let styles = browser
        .js("const s = getComputedStyle($q('.pic-slot')); const td = getComputedStyle($q('td')); const h = getComputedStyle($q('.pic-times h3')); return {bg: s.backgroundColor, pad: td.paddingTop, h3: h.fontSize};")
        .await;
    assert_ne!(styles["bg"], json!("rgb(255, 0, 0)"), "{styles}");
    assert_ne!(styles["pad"], json!("40px"), "{styles}");
    assert_ne!(styles["h3"], json!("60px"), "{styles}");
    browser.shot("01-hostile-page").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_never_see_developer_messages_and_the_rate_limit_names_its_window_once() {
    let Some((_guard, server, browser)) = setup_in("messages", 1280, None).await else {
        return;
    };
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    // A page with a wrong key: the caller gets a plain sentence.
    browser
        .connected_call(&server, &agent, "pk_not_a_real_key")
        .await;
    browser.click("#book").await;
    browser.state_is("error").await;
    let error = browser.text(".pic-error").await;
    for developer in ["Bearer", "HTTP", "401", "unauthorized", "widget key"] {
        assert!(!error.contains(developer), "{developer:?} in {error:?}");
    }
    assert!(error.contains("ask the agent"), "{error}");
    browser.shot("01-wrong-key").await;
    browser.click(".pic-close").await;
    browser.click("#end").await;

    // Ten booking attempts from this page use up the limit; the next one says so, once.
    browser.connected_call(&server, &agent, &key).await;
    browser
        .js(&format!(
            "return (async () => {{ for (let i = 0; i < 10; i++) await fetch('/api/v1/agents/{agent}/calendar/book', {{method: 'POST', headers: {{'X-Pillow-Key': '{key}', 'Content-Type': 'application/json'}}, body: '{{}}'}}); return true; }})();"
        ))
        .await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    browser.type_into("input[name=name]", "Ada").await;
    browser
        .type_into("input[name=email]", "ada@example.com")
        .await;
    browser.click("button[type=submit]").await;
    browser
        .until("$q('.pic-error') && $q('pillow-incall-calendar').dataset.state === 'form'")
        .await;
    let limited = browser.text(".pic-error").await;
    assert!(limited.contains("10 minutes"), "{limited}");
    assert_eq!(limited.matches("wait").count(), 1, "{limited}");
    assert!(!limited.contains("a minute"), "{limited}");
    browser.shot("02-rate-limited").await;
    assert!(server.bookings().await.is_empty());
    browser.finish().await;
}

/// A team of two in New York: Ana works mornings (09–12), Ben afternoons (13–17). Answers the
/// agent id and its widget key.
async fn team_of_two(server: &Server) -> (String, String) {
    let mut ids = Vec::new();
    for (name, email, start, end) in [
        ("Ana Morning", "ana@clinic.test", "09:00", "12:00"),
        ("Ben Afternoon", "ben@clinic.test", "13:00", "17:00"),
    ] {
        let (status, user) = server
            .call(
                reqwest::Method::POST,
                "/api/users",
                Some(json!({"email": email, "name": name, "role": "member", "time_zone": "America/New_York"})),
            )
            .await;
        assert_eq!(status, 201, "{user}");
        let schedule: serde_json::Map<String, Value> = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .map(|d| (d.to_string(), json!([{"start": start, "end": end}])))
        .collect();
        let (status, body) = server
            .call(
                reqwest::Method::POST,
                "/api/calendar/availability-rules",
                Some(json!({"user_id": user["id"], "timezone": "America/New_York", "slot_duration": 30,
                            "schedule": schedule, "min_booking_notice": 24 * 60,
                            "max_booking_notice": 60 * 24 * 60})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let (_, agent) = server
        .call(
            reqwest::Method::POST,
            "/api/agents",
            Some(json!({"name": "Front Desk", "time_zone": "America/New_York"})),
        )
        .await;
    let agent_id = agent["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent_id}/booking-settings"),
            Some(json!({"assignable_users": [{"user_id": ids[0]}, {"user_id": ids[1]}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, key) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/agents/{agent_id}/widget-keys"),
            Some(json!({"name": "page", "allowed_origins": []})),
        )
        .await;
    (agent_id, key["key"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_page_shows_the_booking_keeps_its_host_and_confirms_a_cancel_on_a_phone() {
    let Some((_guard, server, browser)) =
        setup_in("book-page", 390, Some("America/New_York")).await
    else {
        return;
    };
    let (agent, key) = team_of_two(&server).await;
    // A morning booking: only Ana is free then.
    let (_, slots) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{agent}/calendar/slots"),
            None,
        )
        .await;
    let morning = slots["data"]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local_time"].as_str().unwrap().ends_with("AM"))
        .cloned()
        .expect("a morning slot");
    let (status, booked) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{agent}/calendar/book"),
            Some(
                json!({"slotId": morning["id"], "attendeeName": "Katherine Johnson",
                        "attendeeEmail": "kj@example.com"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let code = booked["data"]["booking"]["confirmationCode"]
        .as_str()
        .unwrap()
        .to_string();

    browser
        .c()
        .goto(&format!("{}/book/{agent}?key={key}", server.base))
        .await
        .unwrap();
    // Who the caller books with.
    browser
        .until("document.getElementById('facts').textContent.includes('minutes')")
        .await;
    let facts = browser.text("main section").await;
    for part in [
        "Browser Clinic",
        "Front Desk",
        "30 minutes",
        "Ana Morning",
        "Ben Afternoon",
    ] {
        assert!(facts.contains(part), "{part:?} missing from {facts:?}");
    }
    browser.shot("01-phone-page").await;

    // The booking is shown before anything changes.
    browser.type_into("#code", &code).await;
    browser.type_into("#contact", "kj@example.com").await;
    browser.click("#find").await;
    browser
        .until("!document.getElementById('current').hidden")
        .await;
    let current = browser.text("#current").await;
    assert!(current.contains("Ana Morning"), "{current}");
    assert!(current.contains("New York time"), "{current}");
    browser.shot("02-phone-current-booking").await;

    // New times are Ana's only: mornings. Shown a day at a time: the last day listed is a
    // whole morning whatever the time now (late in a New York morning, today has one or none).
    browser.click("#reschedule").await;
    browser
        .until("document.querySelectorAll('.new-time').length > 0")
        .await;
    browser
        .js("const s = document.getElementById('new-day'); s.value = s.options[s.options.length - 1].value; \
             s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;")
        .await;
    browser
        .until("document.querySelectorAll('.new-time').length > 1")
        .await;
    let hours = browser
        .js("return [...document.querySelectorAll('.new-time')].map(b => b.firstChild.textContent)")
        .await;
    for hour in hours.as_array().unwrap() {
        let hour = hour.as_str().unwrap();
        assert!(
            hour.ends_with("AM"),
            "{hour} is not one of Ana's morning times"
        );
    }
    browser.shot("03-phone-new-times").await;

    // Someone takes the time the caller is about to pick: the server's alternatives show,
    // with the message beside the list, on screen.
    let taken = browser
        .js("const b = document.querySelectorAll('.new-time')[1]; b.id = 'taken'; return b.dataset.start;")
        .await;
    let found: Value = reqwest::Client::new()
        .post(format!("{}/api/public/bookings/find", server.base))
        .json(&json!({"agent_id": agent, "confirmation_code": code, "email": "kj@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let target = found["times"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["start_time"] == taken)
        .cloned()
        .expect("the listed time is one of the host's");
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/agents/{agent}/calendar/book"),
            Some(
                json!({"slotId": target["id"], "attendeeName": "Other Caller",
                        "attendeeEmail": "other@example.com"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["booking"]["hostName"], json!("Ana Morning"));
    browser.click("#taken").await;
    browser
        .until("!document.getElementById('manage-result').hidden && document.getElementById('manage-result').textContent.includes('nearby')")
        .await;
    let near = browser
        .js("const r = document.getElementById('manage-result').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;")
        .await;
    assert_eq!(near, json!(true), "the message is off screen");
    let alternatives = browser.count(".new-time").await;
    assert!(
        (1..=3).contains(&alternatives),
        "{alternatives} alternatives"
    );
    browser.shot("04-phone-alternatives").await;
    browser.click(".new-time").await;
    browser
        .until("document.getElementById('manage-result').textContent.includes('now starts')")
        .await;
    let (_, moved) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings/{code}"),
            None,
        )
        .await;
    assert_ne!(moved["start_time"], morning["start_time"]);

    // Cancel asks first, with a reason; a second cancel says it was already done.
    browser.click("#cancel").await;
    browser
        .until("!document.getElementById('cancel-confirm').hidden")
        .await;
    browser.shot("05-phone-cancel-confirm").await;
    browser.type_into("#reason", "Feeling better").await;
    browser.click("#confirm-cancel").await;
    browser
        .until("document.getElementById('manage-result').textContent.includes('is cancelled')")
        .await;
    let (_, cancelled) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/calendar/bookings/{code}"),
            None,
        )
        .await;
    assert_eq!(cancelled["status"], json!("cancelled"));
    assert_eq!(cancelled["cancel_reason"], json!("Feeling better"));
    browser.click("#find").await;
    browser
        .until("document.getElementById('manage-result').textContent.includes('already cancelled')")
        .await;
    assert_eq!(
        browser
            .js("return document.getElementById('actions').hidden")
            .await,
        json!(true)
    );
    browser.shot("06-phone-already-cancelled").await;

    // A wrong contact is refused.
    browser.type_into("#contact", "someone@else.example").await;
    browser.click("#find").await;
    browser
        .until(
            "document.getElementById('manage-result').textContent.includes('No booking matches')",
        )
        .await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_markdown_real_examples_every_status_and_mcp() {
    let Some((_guard, server, browser)) = setup_in("docs", 1280, None).await else {
        return;
    };
    browser
        .c()
        .goto(&format!("{}/docs", server.base))
        .await
        .unwrap();
    browser
        .until("document.querySelectorAll('.op').length > 10")
        .await;
    let page = browser
        .js("return {text: document.body.innerText, pres: [...document.querySelectorAll('pre')].map(p => p.textContent).join('\\n'), mcp: !!document.getElementById('mcp'), statuses: [...document.querySelectorAll('.op li')].filter(li => /^(422|429)/.test(li.textContent)).map(li => li.textContent)};")
        .await;
    let text = page["text"].as_str().unwrap();
    assert!(!text.contains('`'), "raw markdown on the page");
    assert!(
        !page["pres"].as_str().unwrap().contains("\"string\""),
        "examples read \"string\""
    );
    assert_eq!(page["mcp"], json!(true));
    assert!(text.contains("/mcp"));
    let statuses = page["statuses"].as_array().unwrap();
    assert!(!statuses.is_empty());
    for status in statuses {
        let status = status.as_str().unwrap();
        assert!(status.len() > 12, "{status} is not explained");
    }
    browser.shot("01-docs").await;
    browser.finish().await;
}

/// An agent in `zone` whose one member is open around the clock, every day; answers its id and
/// a widget key.
async fn agent_in(server: &Server, zone: &str) -> (String, String) {
    let (status, user) = server
        .call(
            reqwest::Method::POST,
            "/api/users",
            Some(
                json!({"email": "allday@clinic.test", "name": "All Day", "role": "member",
                        "time_zone": zone}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let schedule: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|d| (d.to_string(), json!([{"start": "00:00", "end": "24:00"}])))
    .collect();
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            "/api/calendar/availability-rules",
            Some(
                json!({"user_id": user["id"], "timezone": zone, "slot_duration": 30,
                        "schedule": schedule}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, agent) = server
        .call(
            reqwest::Method::POST,
            "/api/agents",
            Some(json!({"name": "Island Desk", "time_zone": zone})),
        )
        .await;
    let agent_id = agent["id"].as_str().unwrap().to_string();
    let (status, body) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/agents/{agent_id}/booking-settings"),
            Some(json!({"assignable_users": [{"user_id": user["id"]}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, key) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/agents/{agent_id}/widget-keys"),
            Some(json!({"name": "page", "allowed_origins": []})),
        )
        .await;
    (agent_id, key["key"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_a_day_ahead_of_the_business_still_gets_the_business_s_today() {
    // Kiritimati (UTC+14) is always a calendar day or two ahead of Pago Pago (UTC-11), so a
    // widget that asked for "the caller's today" always missed the business's today.
    let Some((_guard, server, browser)) =
        setup_in("day-ahead", 1280, Some("Pacific/Kiritimati")).await
    else {
        return;
    };
    let (agent, key) = agent_in(&server, "Pacific/Pago_Pago").await;
    let (status, body) = server
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/agents/{agent}/calendar/slots"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let first = body["data"]["slots"][0].clone();
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    let shown = browser.js("return $q('.pic-slot').dataset.slot").await;
    let shown_start = browser
        .js(&format!(
            "const w = $q('pillow-incall-calendar'); return [...w.slots.values()].find(s => s.id === {shown})?.start_time;"
        ))
        .await;
    assert_eq!(
        shown_start, first["start_time"],
        "the business's soonest time is the first one shown"
    );
    browser.shot("01-day-ahead").await;
    browser.finish().await;
}
