//! The analytics page's charts in real Chromium: drawn by the vendored uPlot (a canvas in every
//! chart, no script error, nothing refused by the page's content policy), their figures the
//! same as the tables beside them, photographed at 1280 and 390 pixels wide.

use serde_json::{Value, json};

use super::dashboard::{OWNER_EMAIL, OWNER_PASSWORD, setup_with};

/// Tomorrow in New York, the owner's zone.
fn tomorrow() -> jiff::civil::Date {
    jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date()
        .tomorrow()
        .unwrap()
}

async fn charts_are_drawn_at(width: u32, prefix: &'static str) {
    let Some((_guard, dash, browser)) = setup_with(prefix, width, false).await else {
        return;
    };
    dash.hours(&dash.owner).await;
    for (name, hour) in [("Ann", 9), ("Ben", 10), ("Cy", 14)] {
        dash.book(name, hour).await;
    }
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    let day = tomorrow();
    let from = day.yesterday().unwrap();
    browser
        .open(&dash, &format!("/dashboard/analytics?from={from}&to={day}"))
        .await;
    browser
        .until("!!document.documentElement.dataset.charts")
        .await;
    let outcome = browser
        .js("const r = document.documentElement; return [r.dataset.charts, r.dataset.chartErrors || ''];")
        .await;
    assert_eq!(outcome, json!(["drawn", ""]), "the charts failed");

    // Every chart is a uPlot canvas; nothing is drawn by hand.
    let charts = browser.count("[data-chart]").await;
    assert!(charts >= 3, "{charts} charts");
    assert_eq!(browser.count("[data-chart] .uplot canvas").await, charts);
    assert_eq!(browser.count("[data-chart][data-drawn=true]").await, charts);
    assert_eq!(browser.count("svg.chart").await, 0);
    let sized = browser
        .js("return [...document.querySelectorAll('[data-chart] canvas')].every(c => c.width > 0 && c.height > 0)")
        .await;
    assert_eq!(sized, json!(true));

    // The per-day chart shows the figures of the table beside it.
    let spec: Value = serde_json::from_str(
        browser
            .js("return document.querySelector('[aria-label=\"Confirmed bookings per day\"]').dataset.chart")
            .await
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let table = browser
        .js("return [...document.querySelectorAll('tr[data-day] td:last-child')].map(td => Number(td.textContent))")
        .await;
    assert_eq!(spec["values"], table);
    assert_eq!(spec["values"], json!([0, 3]));

    // The per-channel figures are the API's counts for each channel over the same instants.
    let start = from.in_tz("America/New_York").unwrap().timestamp();
    let end = day
        .tomorrow()
        .unwrap()
        .in_tz("America/New_York")
        .unwrap()
        .timestamp();
    let rows = browser
        .js("return [...document.querySelectorAll('tr[data-channel]')].map(tr => [tr.dataset.channel, Number(tr.querySelector('[data-figure=confirmed]').textContent)])")
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 7, "every channel is listed: {rows:?}");
    for row in rows {
        let channel = row[0].as_str().unwrap();
        let (status, body) = dash
            .call(
                reqwest::Method::GET,
                &format!(
                    "/api/calendar/bookings?start={start}&end={end}&status=confirmed&channel={channel}"
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let counted = body["bookings"].as_array().unwrap().len();
        assert_eq!(row[1], json!(counted), "{channel}");
    }
    assert_eq!(
        browser
            .text("tr[data-channel=api] [data-figure=confirmed]")
            .await,
        "3"
    );

    browser.check_page().await;
    browser.shot("analytics-charts").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_charts_are_drawn_by_the_vendored_library_at_1280_pixels() {
    charts_are_drawn_at(1280, "dashboard-1280").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_charts_are_drawn_by_the_vendored_library_at_390_pixels() {
    charts_are_drawn_at(390, "dashboard-390").await;
}
