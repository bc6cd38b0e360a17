//! The calendar the agent opens puts the times the caller asked for first: "Wednesday
//! afternoon, as early as possible" opens with those three times under "Suggested for you",
//! one click from the form, at desktop and phone widths.

use super::*;
use crate::live_call::connect;

const INTERNAL_KEY: &str = "internal-key-for-browser-tests-0123456789";

/// `show_booking_calendar` in Retell's envelope: Wednesday afternoon next week, earliest first.
async fn ask(server: &Server, agent: &str, call: &str) -> Value {
    let today = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date();
    let monday = today
        .checked_add(jiff::Span::new().days(7 - i64::from(today.weekday().to_monday_zero_offset())))
        .unwrap();
    let sunday = monday.checked_add(jiff::Span::new().days(6)).unwrap();
    let response = server
        .client
        .post(format!("{}/api/calendar/show-calendar/retell", server.base))
        .bearer_auth(INTERNAL_KEY)
        .header("x-agent-id", agent)
        .json(&json!({
            "name": "show_booking_calendar",
            "call": {"call_id": call, "agent_id": "retell-agent-1", "call_status": "ongoing"},
            "args": {"date": monday.to_string(), "end_date": sunday.to_string(),
                     "weekday": "wednesday", "part_of_day": "afternoon", "prefer": "earliest"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The suggested buttons' times in New York: `[weekday, hour, minute]` each.
async fn suggested_times(browser: &Browser) -> Vec<Value> {
    browser
        .js("const el = $q('pillow-incall-calendar'); \
             const f = new Intl.DateTimeFormat('en-US', {timeZone: 'America/New_York', weekday: 'long', hour: 'numeric', minute: 'numeric', hourCycle: 'h23'}); \
             return $qa('.pic-sug').map((b) => [...el.slots.values()].find((s) => s.id === b.dataset.slot)) \
               .map((s) => { const p = Object.fromEntries(f.formatToParts(new Date(s.start_time)).map((x) => [x.type, x.value])); \
                             return [p.weekday, +p.hour, +p.minute]; });")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_the_agent_opens_suggests_the_times_the_caller_asked_for_first() {
    let Some((chrome, driver)) = browser_binaries() else {
        return;
    };
    let _guard = ONE_AT_A_TIME.lock().await;
    let server = Server::start_with(&[("INTERNAL_API_KEY", INTERNAL_KEY)]).await;
    let (agent, key) = server.agent("Front Desk", "host@clinic.test", 0).await;

    for (width, height, prefix) in [(1280, 900, "suggested"), (390, 844, "suggested-phone")] {
        let browser = Browser::start(&chrome, &driver, prefix, width, height).await;
        let call = format!("call-{prefix}");
        connect(&browser, &server, &agent, &key, &call).await;
        let answer = ask(&server, &agent, &call).await;
        assert_eq!(answer["browser_listening"], true, "{answer}");
        let spoken = answer["suggested"].as_array().unwrap();
        assert_eq!(spoken.len(), 3, "{answer}");
        browser
            .until("$q('dialog').open && $q('pillow-incall-calendar').dataset.state === 'slots' && $qa('.pic-sug').length > 0")
            .await;
        assert_eq!(browser.text(".pic-suggested h3").await, "Suggested for you");
        assert_eq!(
            suggested_times(&browser).await,
            vec![
                json!(["Wednesday", 12, 0]),
                json!(["Wednesday", 12, 30]),
                json!(["Wednesday", 13, 0])
            ]
        );
        // Each names its day and time with the zone, as every time the widget shows.
        let first = browser.text(".pic-sug").await;
        assert!(first.contains("Wed") && first.contains("time"), "{first}");
        let fits = browser
            .js("return $qa('.pic-sug').every((b) => { const r = b.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; })")
            .await;
        assert_eq!(fits, json!(true), "the suggestions fit the screen");
        browser.shot("01-suggested-first").await;

        // One click takes the caller to the form for that time.
        browser.click(".pic-sug").await;
        browser.state_is("form").await;
        let chosen = browser.text(".pic-chosen strong").await;
        assert_eq!(chosen, first, "the form is for the suggested time");
        browser.shot("02-suggestion-chosen").await;
        browser.finish().await;
    }
}
