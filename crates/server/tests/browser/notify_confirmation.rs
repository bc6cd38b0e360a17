//! The confirmation in the widget and on the hosted page: where the details were sent, and
//! "Add to calendar" (an `.ics` download, Google Calendar and Outlook), at desktop and phone
//! widths; and the widget's appointment type picker.

use serde_json::{Value, json};

use super::{Browser, Server, browser_binaries};

/// E-mail and SMS on at the server (nothing delivers in these tests: no outbox worker runs).
const CHANNELS: &[(&str, &str)] = &[
    ("SMTP_URL", "smtp://127.0.0.1:9"),
    ("EMAIL_FROM", "Pillow Calendar <bookings@pillow.test>"),
    ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
    ("TWILIO_AUTH_TOKEN", "token-for-tests"),
    ("TWILIO_FROM", "+15555550100"),
    ("TWILIO_API_BASE_URL", "http://127.0.0.1:9"),
];

/// An agent (as [`Server::agent`]) that sends e-mail and texts.
async fn notifying_agent(server: &Server) -> (String, String) {
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    let path = format!("/api/agents/{agent}/booking-settings");
    let (status, mut settings) = server.call(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200, "{settings}");
    settings["notifications"] = json!({"send_email": true, "send_sms": true, "reminders": []});
    let (status, body) = server
        .call(reqwest::Method::PUT, &path, Some(settings))
        .await;
    assert_eq!(status, 200, "{body}");
    (agent, key)
}

/// Picks the first time in the open widget and books it as Jane.
async fn book_first_time(browser: &Browser) {
    browser.state_is("slots").await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    browser.type_into("input[name=name]", "Jane Doe").await;
    browser
        .type_into("input[name=email]", "jane.doe@example.com")
        .await;
    browser
        .type_into("input[name=phone]", "+1 212 555 0123")
        .await;
    browser.click(".pic-form button[type=submit]").await;
    browser.state_is("confirmed").await;
}

/// The "Add to calendar" links shown, by their text.
async fn calendar_links(browser: &Browser, css: &str) -> Value {
    browser
        .js(&format!(
            "return Object.fromEntries([...$qa('{css} a')].map(a => [a.textContent, a.href]));"
        ))
        .await
}

/// What the `.ics` link answers, fetched by the page itself.
async fn fetch_ics(browser: &Browser, href: &str) -> Value {
    browser
        .c()
        .execute_async(
            "const [href, done] = arguments; fetch(href).then(async r => done({status: r.status, type: r.headers.get('content-type'), text: await r.text()}));",
            vec![json!(href)],
        )
        .await
        .unwrap()
}

fn check_links(links: &Value, start: &str) {
    let google = links["Google Calendar"].as_str().unwrap();
    assert!(
        google.starts_with("https://calendar.google.com/calendar/render?"),
        "{google}"
    );
    assert!(google.contains(&format!("dates={start}%2F")), "{google}");
    let outlook = links["Outlook"].as_str().unwrap();
    assert!(
        outlook.starts_with("https://outlook.live.com/calendar/0/"),
        "{outlook}"
    );
    assert!(outlook.contains("startdt="), "{outlook}");
}

/// The start of the one booking in the API, as `20260310T183000Z`.
async fn booked_start(server: &Server) -> String {
    let bookings = server.bookings().await;
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    let start: jiff::Timestamp = bookings[0]["start_time"].as_str().unwrap().parse().unwrap();
    start.strftime("%Y%m%dT%H%M%SZ").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_widget_confirmation_says_where_the_details_went_and_adds_to_calendar() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = super::ONE_AT_A_TIME.lock().await;
    for (width, height, prefix) in [
        (1280, 900, "confirmation-1280"),
        (390, 844, "confirmation-390"),
    ] {
        let server = Server::start_with(CHANNELS).await;
        let (agent, key) = notifying_agent(&server).await;
        let browser = Browser::start(&chrome, &driver, prefix, width, height).await;
        browser.connected_call(&server, &agent, &key).await;
        browser.click("#book").await;
        book_first_time(&browser).await;

        let sent = browser.text(".pic-sent").await;
        assert_eq!(sent, "We sent the details to j…@example.com and …0123.");
        let links = calendar_links(&browser, ".pic-add").await;
        let start = booked_start(&server).await;
        check_links(&links, &start);
        // The confirmation code is still the list's last entry.
        let code = browser.js("return $q('dd:last-of-type').textContent").await;
        assert_eq!(code.as_str().unwrap().len(), 9);
        browser.shot("01-confirmed").await;
        // Shown to people with its zone; the file the link gives is the event in UTC.
        let when = browser
            .js("return [...$qa('.pic-done dt')].find(d => d.textContent === 'When').nextElementSibling.textContent")
            .await;
        assert!(when.as_str().unwrap().contains(" time"), "{when}");
        let ics = fetch_ics(&browser, links["Apple Calendar (.ics)"].as_str().unwrap()).await;
        assert_eq!(ics["status"], json!(200), "{ics}");
        assert!(ics["type"].as_str().unwrap().starts_with("text/calendar"));
        let text = ics["text"].as_str().unwrap();
        assert!(text.contains("METHOD:PUBLISH"), "{text}");
        assert!(text.contains(&format!("DTSTART:{start}")), "{text}");
        browser.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_sends_nothing_shows_no_sent_line_but_still_the_calendar_links() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = super::ONE_AT_A_TIME.lock().await;
    // E-mail on at the server, but this agent does not ask for it.
    let server = Server::start_with(CHANNELS).await;
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    let browser = Browser::start(&chrome, &driver, "confirmation-quiet", 1280, 900).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    book_first_time(&browser).await;
    assert_eq!(browser.count(".pic-sent").await, 0);
    assert_eq!(browser.count(".pic-add a").await, 3);
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_page_repeats_where_the_details_went_and_the_calendar_links() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = super::ONE_AT_A_TIME.lock().await;
    for (width, height, prefix) in [(1280, 900, "hosted-1280"), (390, 844, "hosted-390")] {
        let server = Server::start_with(CHANNELS).await;
        let (agent, key) = notifying_agent(&server).await;
        let browser = Browser::start(&chrome, &driver, prefix, width, height).await;
        browser
            .c()
            .goto(&format!("{}/book/{agent}?key={key}", server.base))
            .await
            .unwrap();
        browser
            .until("document.getElementById('facts').textContent.includes('minutes')")
            .await;
        browser.click("#open").await;
        book_first_time(&browser).await;
        browser.click(".pic-done [data-act=close]").await;
        browser.until("!$q('dialog').open").await;
        browser
            .until("!document.getElementById('booked').hidden")
            .await;
        let booked = browser.text("#booked").await;
        assert!(
            booked.contains("We sent the details to j…@example.com and …0123."),
            "{booked}"
        );
        let links = calendar_links(&browser, "#booked").await;
        check_links(&links, &booked_start(&server).await);
        browser.shot("01-booked").await;
        browser.finish().await;
    }
}

/// Adds an appointment type to the agent.
async fn add_type(server: &Server, agent: &str, name: &str, slug: &str, minutes: i64) {
    let (status, body) = server
        .call(
            reqwest::Method::POST,
            &format!("/api/agents/{agent}/appointment-types"),
            Some(json!({"name": name, "slug": slug, "duration": minutes})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The `appointmentType` of the widget's latest slots request ("" without one).
async fn last_slots_type(browser: &Browser) -> String {
    browser
        .js("const urls = performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/calendar/slots')); \
             return new URL(urls.at(-1)).searchParams.get('appointmentType') || '';")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// Needs the in-call slots to honour `appointmentType` (server side of issue 16).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_type_picker_reloads_slots_for_the_chosen_appointment_type() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = super::ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    add_type(&server, &agent, "Check-up", "check-up", 30).await;
    add_type(&server, &agent, "Cleaning", "cleaning", 60).await;
    let browser = Browser::start(&chrome, &driver, "type-picker", 1280, 900).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;

    let options = browser
        .js("return [...$q('select[name=type]').options].map(o => [o.value, o.textContent, o.selected]);")
        .await;
    assert_eq!(
        options,
        json!([
            ["check-up", "Check-up · 30 min", true],
            ["cleaning", "Cleaning · 60 min", false]
        ])
    );
    assert_eq!(last_slots_type(&browser).await, "check-up");
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    assert!(browser.text(".pic-chosen").await.contains("(30 min)"));
    browser.click("[data-act=back]").await;
    browser.state_is("slots").await;
    browser.shot("01-check-up").await;

    browser
        .js("const s = $q('select[name=type]'); s.value = 'cleaning'; s.dispatchEvent(new Event('change', {bubbles: true}));")
        .await;
    browser
        .until("$q('pillow-incall-calendar').dataset.state === 'slots' && $q('select[name=type]').value === 'cleaning'")
        .await;
    assert_eq!(last_slots_type(&browser).await, "cleaning");
    assert_eq!(
        browser.active().await["name"],
        json!("type"),
        "focus stays on the picker"
    );
    browser.shot("02-cleaning").await;
    browser.click(".pic-slot").await;
    browser.state_is("form").await;
    let chosen = browser.text(".pic-chosen").await;
    assert!(chosen.contains("(60 min)"), "{chosen}");
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_one_type_or_none_shows_no_picker() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = super::ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;
    add_type(&server, &agent, "Check-up", "check-up", 30).await;
    let browser = Browser::start(&chrome, &driver, "type-picker-one", 1280, 900).await;
    browser.connected_call(&server, &agent, &key).await;
    browser.click("#book").await;
    browser.state_is("slots").await;
    assert_eq!(browser.count("select[name=type]").await, 0);
    assert_eq!(last_slots_type(&browser).await, "");
    browser.finish().await;
}
