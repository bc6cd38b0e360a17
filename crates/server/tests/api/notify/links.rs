//! Signed reschedule and cancel links in the caller's messages: each opens the booking on the
//! hosted page, does its one action once, and expires; a forged or altered one is refused.

use jiff::{SignedDuration, Timestamp};
use pillow_server::manage_link::{Action, LinkClaims};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::email::{book, desk, drain, slot};
use super::sink::{Received, SmtpSink};
use crate::helpers::{Reply, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_link_from_the_message_reschedules_once_and_the_next_message_brings_new_ones,
    a_link_is_refused_when_expired_forged_or_for_another_action,
);

const LINK: &str = "/api/public/bookings/link";

/// A request from the hosted page: no credentials, the link's token in the body.
async fn public(app: &TestApp, path: &str, body: &Value) -> Reply {
    app.send(reqwest::Method::POST, path, None, Some(body))
        .await
}

/// The `manage=` tokens in a message's text: the reschedule link's, then the cancel link's.
fn tokens(message: &Received) -> Vec<String> {
    message
        .text()
        .split("manage=")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect()
        })
        .collect()
}

fn start_of(reply: &Reply) -> Timestamp {
    reply.body["start_time"].as_str().unwrap().parse().unwrap()
}

fn to_caller(sink: &SmtpSink) -> Vec<Received> {
    sink.messages()
        .into_iter()
        .filter(|m| m.to() == "john@example.com")
        .collect()
}

async fn a_link_from_the_message_reschedules_once_and_the_next_message_brings_new_ones(
    app: &TestApp,
) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, true).await;
    let booked = book(app, &acme, &agent, slot(2, 30)).await;
    let id = booked["id"].as_str().unwrap();
    drain(app, &sink, SignedDuration::ZERO).await;
    let first = to_caller(&sink);
    assert_eq!(first.len(), 1);
    let text = first[0].text();
    assert!(
        text.contains(&format!("/book/{agent}?manage=ML_")),
        "{text}"
    );
    let [reschedule, cancel] = <[String; 2]>::try_from(tokens(&first[0])).unwrap();
    let member = sink
        .messages()
        .into_iter()
        .find(|m| m.to() == acme.owner.email);
    assert!(
        tokens(&member.unwrap()).is_empty(),
        "the member gets no caller links"
    );

    // The link opens the booking with its action and the host's open times.
    let opened = public(app, LINK, &json!({"token": reschedule})).await;
    assert_eq!(opened.status, StatusCode::OK, "{:?}", opened.body);
    assert_eq!(opened.body["action"], "reschedule");
    assert_eq!(opened.body["booking"]["id"], id);
    assert!(!opened.body["times"].as_array().unwrap().is_empty());

    let moved_to = slot(2, 36);
    let body = json!({"token": reschedule, "start_time": moved_to.to_string()});
    let moved = public(app, &format!("{LINK}/reschedule"), &body).await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(start_of(&moved), moved_to);

    // Used up; and the first message's cancel link is stale too: the booking changed.
    let again = public(
        app,
        &format!("{LINK}/reschedule"),
        &json!({"token": reschedule, "start_time": slot(2, 40).to_string()}),
    )
    .await;
    assert_eq!(again.status, StatusCode::GONE, "{:?}", again.body);
    assert_eq!(again.body["error"]["code"], "link_used");
    let stale = public(app, &format!("{LINK}/cancel"), &json!({"token": cancel})).await;
    assert_eq!(stale.status, StatusCode::GONE, "{:?}", stale.body);
    let booking = app
        .get(&format!("/api/calendar/bookings/{id}"), &acme.key)
        .await;
    assert_eq!(start_of(&booking), moved_to, "moved once");
    assert_eq!(booking.body["status"], "confirmed");

    // The "moved" message carries fresh links; its cancel link cancels, once.
    drain(app, &sink, SignedDuration::ZERO).await;
    let second = to_caller(&sink);
    assert_eq!(second.len(), 2);
    let fresh = tokens(&second[1]);
    assert_eq!(fresh.len(), 2, "{}", second[1].text());
    let cancelled = public(app, &format!("{LINK}/cancel"), &json!({"token": fresh[1]})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    let twice = public(app, &format!("{LINK}/cancel"), &json!({"token": fresh[1]})).await;
    assert_eq!(twice.status, StatusCode::GONE);
    assert_eq!(twice.body["error"]["code"], "link_used");
}

async fn a_link_is_refused_when_expired_forged_or_for_another_action(app: &TestApp) {
    let acme = app.tenant("Acme").await;
    let agent = desk(app, &acme, false).await;
    let booked = book(app, &acme, &agent, slot(2, 30)).await;
    let id = booked["id"].as_str().unwrap().parse().unwrap();
    let booking = app.store().get_booking(acme.id, id).await.unwrap().unwrap();
    let links = &app.state.manage_links;
    let claims = LinkClaims::for_booking(&booking, Action::Cancel, Timestamp::now());
    let cancel = links.sign(&claims);

    let wrong_action = public(
        app,
        &format!("{LINK}/reschedule"),
        &json!({"token": cancel, "start_time": slot(2, 34).to_string()}),
    )
    .await;
    assert_eq!(
        wrong_action.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        wrong_action.body
    );
    assert_eq!(wrong_action.body["error"]["code"], "invalid_link");

    let expired = links.sign(&LinkClaims {
        expires: Timestamp::now() - SignedDuration::from_secs(1),
        ..claims
    });
    let reply = public(app, &format!("{LINK}/cancel"), &json!({"token": expired})).await;
    assert_eq!(reply.status, StatusCode::GONE, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["code"], "link_expired");

    // One character changed: the signature no longer matches.
    let mut forged: Vec<char> = cancel.chars().collect();
    forged[10] = if forged[10] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let reply = public(app, &format!("{LINK}/cancel"), &json!({"token": forged})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["code"], "invalid_link");

    // None of it changed the booking; the genuine link still works.
    let reply = public(app, &format!("{LINK}/cancel"), &json!({"token": cancel})).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
}
