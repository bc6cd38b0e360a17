//! The agents page in real Chromium: creating an agent, editing its zone and moving it to
//! Cal.com (refused without a key, with the reason beside the form; saved with one), creating a
//! widget key with allowed origins (shown whole once, with the embed snippet and a copy
//! button), the key working for the in-call API, revoking it, and the voice setup's tool
//! definitions loaded when it is opened (and on their own page). Photographed at 1280 and 390
//! pixels wide.

use serde_json::{Value, json};

use super::dashboard::{Dash, OWNER_EMAIL, OWNER_PASSWORD, setup_with};

async fn agents(dash: &Dash) -> Vec<Value> {
    let (status, body) = dash.call(reqwest::Method::GET, "/api/agents", None).await;
    assert_eq!(status, 200, "{body}");
    body["agents"].as_array().cloned().unwrap_or_default()
}

async fn agents_page_at(width: u32, prefix: &'static str) {
    let Some((_guard, dash, browser)) = setup_with(prefix, width, false).await else {
        return;
    };
    browser.log_in(&dash, OWNER_EMAIL, OWNER_PASSWORD).await;
    browser.open(&dash, "/dashboard/agents").await;
    assert_eq!(browser.heading().await, "Agents");
    browser.check_page().await;
    browser.shot("agents-empty").await;

    // A new agent, from the form that is open while there is none.
    browser.type_into("#new-name", "Front Desk").await;
    browser.type_into("#new-zone", "America/Chicago").await;
    browser.click("#create-agent").await;
    browser
        .until("document.querySelector('.notice')?.textContent === 'Agent created.'")
        .await;
    let listed = agents(&dash).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["name"], "Front Desk");
    assert_eq!(listed[0]["time_zone"], "America/Chicago");
    assert_eq!(listed[0]["backend"], "native");
    let id = listed[0]["id"].as_str().unwrap().to_string();

    // Editing: a zone that does not exist is refused beside the form, nothing changes.
    browser
        .js(&format!(
            "document.querySelector('[data-agent=\"{id}\"] details').open = true"
        ))
        .await;
    browser
        .type_into(&format!("#edit-{id}-zone"), "Mars/Olympus")
        .await;
    browser.click(&format!("[data-save-agent='{id}']")).await;
    browser
        .until("!!document.querySelector('[data-testid=agent-error]')")
        .await;
    assert!(
        browser
            .text("[data-testid=agent-error]")
            .await
            .contains("Mars/Olympus"),
        "the refusal names the zone"
    );
    assert_eq!(agents(&dash).await[0]["time_zone"], "America/Chicago");
    // Cal.com without its key is refused too. The last refusal goes first, so the wait below
    // is for this save's page, not the one already showing.
    browser
        .type_into(&format!("#edit-{id}-zone"), "Europe/Berlin")
        .await;
    browser
        .js(&format!(
            "document.querySelector('[data-testid=agent-error]')?.remove(); \
             document.getElementById('edit-{id}-backend').value = 'calcom'"
        ))
        .await;
    browser
        .type_into(&format!("#edit-{id}-slug"), "consult")
        .await;
    browser.click(&format!("[data-save-agent='{id}']")).await;
    browser
        .until("!!document.querySelector('[data-testid=agent-error]')")
        .await;
    assert!(
        browser
            .text("[data-testid=agent-error]")
            .await
            .contains("cal_api_key")
    );
    browser.check_page().await;
    browser.shot("agents-error").await;
    assert_eq!(agents(&dash).await[0]["backend"], "native");
    // With the key it is saved; the key itself is never shown again.
    browser
        .type_into(&format!("#edit-{id}-zone"), "Europe/Berlin")
        .await;
    browser
        .js(&format!(
            "document.getElementById('edit-{id}-backend').value = 'calcom'"
        ))
        .await;
    browser
        .type_into(&format!("#edit-{id}-slug"), "consult")
        .await;
    browser
        .type_into(&format!("#edit-{id}-key"), "cal_live_secret_1")
        .await;
    browser.click(&format!("[data-save-agent='{id}']")).await;
    browser
        .until("document.querySelector('.notice')?.textContent === 'Agent saved.'")
        .await;
    let saved = &agents(&dash).await[0];
    assert_eq!(saved["time_zone"], "Europe/Berlin");
    assert_eq!(saved["backend"], "calcom");
    assert_eq!(saved["cal_api_key_set"], true);
    assert_eq!(saved["cal_event_type_slug"], "consult");
    assert_eq!(
        browser
            .js("return document.body.innerHTML.includes('cal_live_secret_1')")
            .await,
        json!(false)
    );
    // Back to native for the widget. The last save's notice goes first, so the wait below is
    // for this save's page, not the one already showing.
    browser
        .js(&format!("document.querySelector('.notice')?.remove(); document.querySelector('[data-agent=\"{id}\"] details').open = true; document.getElementById('edit-{id}-backend').value = 'native'"))
        .await;
    browser.click(&format!("[data-save-agent='{id}']")).await;
    browser
        .until("document.querySelector('.notice')?.textContent === 'Agent saved.'")
        .await;
    assert_eq!(agents(&dash).await[0]["backend"], "native");

    // A widget key: a bad origin is refused; a good one is shown whole once.
    browser
        .type_into(&format!("#key-origins-{id}"), "shop.example")
        .await;
    browser.click(&format!("[data-create-key='{id}']")).await;
    browser
        .until("!!document.querySelector('[data-testid=key-error]')")
        .await;
    assert!(
        browser
            .text("[data-testid=key-error]")
            .await
            .contains("shop.example")
    );
    browser
        .type_into(&format!("#key-name-{id}"), "website")
        .await;
    browser
        .type_into(
            &format!("#key-origins-{id}"),
            "https://shop.example\nhttp://localhost:8080",
        )
        .await;
    browser.click(&format!("[data-create-key='{id}']")).await;
    browser
        .until("!!document.querySelector('[data-testid=new-key]')")
        .await;
    let key = browser
        .js(&format!(
            "return document.getElementById('new-key-{id}').value"
        ))
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with("pk_"), "{key}");
    let snippet = browser
        .js(&format!(
            "return document.getElementById('new-embed-{id}').value"
        ))
        .await;
    assert!(
        snippet
            .as_str()
            .unwrap()
            .contains(&format!("widget-key=\"{key}\"")),
        "{snippet}"
    );
    assert!(
        browser
            .text(&format!("[data-agent='{id}'] .keys li"))
            .await
            .contains("https://shop.example, http://localhost:8080")
    );
    // The copy button copies (or, without clipboard access, selects the key for Ctrl+C).
    browser
        .click(&format!("button[data-copy-target='#new-key-{id}']"))
        .await;
    browser
        .until(&format!(
            "!!document.querySelector(\"button[data-copy-target='#new-key-{id}']\").dataset.copied"
        ))
        .await;
    browser.check_page().await;
    browser.shot("agents-new-key").await;
    // The key works for the in-call API from an allowed origin.
    let day = jiff::Timestamp::now()
        .in_tz("America/New_York")
        .unwrap()
        .date();
    let slots = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/agents/{id}/calendar/slots?startDate={day}&endDate={day}",
            dash.base
        ))
        .header("x-pillow-key", &key)
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_ne!(slots.status().as_u16(), 401);
    assert_ne!(slots.status().as_u16(), 403);

    // Revoked: gone from the page and refused by the API.
    browser
        .click(&format!("[data-agent='{id}'] [data-revoke]"))
        .await;
    browser
        .until("document.querySelector('.notice')?.textContent.startsWith('Widget key revoked')")
        .await;
    assert_eq!(
        browser
            .count(&format!("[data-agent=\"{id}\"] .keys li"))
            .await,
        0
    );
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/agents/{id}/calendar/slots?startDate={day}&endDate={day}",
            dash.base
        ))
        .header("x-pillow-key", &key)
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    browser.check_page().await;
    browser.shot("agents").await;

    // The voice setup loads the tool definitions when it is first opened, copy buttons and all.
    let voice = format!("[data-agent='{id}'] details.voice");
    assert_eq!(browser.count(&format!("#tools-retell-{id}")).await, 0);
    browser.click(&format!("{voice} summary")).await;
    browser
        .until(&format!(
            "document.querySelector('#tools-openai-{id}')?.value.includes('check_availability')"
        ))
        .await;
    // Still the agents page: the part came from the voice page, its title did not.
    assert_eq!(
        browser.js("return document.title").await,
        json!("Agents · Pillow Calendar")
    );
    let retell = browser
        .js(&format!(
            "return document.querySelector('#tools-retell-{id}').value"
        ))
        .await;
    let retell = retell.as_str().unwrap();
    assert!(retell.contains(&format!("\"{id}\"")), "{retell}");
    assert!(
        retell.contains("/api/calendar/availability/retell"),
        "{retell}"
    );
    browser
        .click(&format!("button[data-copy-target='#tools-vapi-{id}']"))
        .await;
    browser
        .until(&format!(
            "!!document.querySelector(\"button[data-copy-target='#tools-vapi-{id}']\").dataset.copied"
        ))
        .await;
    browser.check_page().await;
    browser
        .js(&format!(
            "document.querySelector(\"{voice}\").scrollIntoView()"
        ))
        .await;
    browser.shot("agents-voice").await;

    // Without script the section links to the same definitions on a page of their own.
    browser
        .open(&dash, &format!("/dashboard/agents/{id}/voice"))
        .await;
    assert_eq!(browser.heading().await, "Voice setup");
    assert_eq!(browser.count(&format!("#tools-vapi-{id}")).await, 1);
    browser.check_page().await;
    browser.shot("agents-voice-page").await;
    browser.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_widget_keys_are_created_edited_and_revoked_from_the_page_at_1280_pixels() {
    agents_page_at(1280, "dashboard-1280").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_widget_keys_are_created_edited_and_revoked_from_the_page_at_390_pixels() {
    agents_page_at(390, "dashboard-390").await;
}
