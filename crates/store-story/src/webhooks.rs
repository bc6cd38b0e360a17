//! Webhooks: subscriptions read back, change and go per tenant; the delivery log keeps one row
//! per subscription and job, counts attempts, and tells a booking's later event to wait.

use pillow_store::*;
use uuid::Uuid;

use crate::fixtures::*;

fn subscription(url: &str) -> NewWebhook {
    NewWebhook {
        subscriber_url: url.into(),
        events: vec!["BOOKING_CREATED".into(), "BOOKING_CANCELLED".into()],
        secret_sealed: "sealed:secret".into(),
        active: true,
    }
}

fn attempt(
    webhook: Uuid,
    job: Uuid,
    booking: BookingId,
    at: &str,
    status: DeliveryStatus,
) -> WebhookAttempt {
    WebhookAttempt {
        webhook_id: webhook,
        job_id: job,
        booking_id: Some(booking),
        event: "BOOKING_CREATED".into(),
        status,
        response_code: Some(503),
        duration_ms: Some(12),
        error: Some("HTTP 503".into()),
        job_created_at: crate::fixtures::at(at),
    }
}

pub async fn a_webhook_reads_back_changes_and_is_deleted(store: &dyn Store) {
    let world = world(store).await;
    let acme = world.acme.id;
    let made = store
        .create_webhook(acme, &subscription("https://hooks.acme.test/in"))
        .await
        .unwrap();
    assert_eq!(made.events, ["BOOKING_CREATED", "BOOKING_CANCELLED"]);
    assert!(made.active);
    assert_eq!(
        store.get_webhook(acme, made.id).await.unwrap(),
        Some(made.clone())
    );
    let changed = store
        .update_webhook(
            acme,
            made.id,
            &WebhookPatch {
                active: Some(false),
                events: Some(vec!["BOOKING_RESCHEDULED".into()]),
                ..WebhookPatch::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!changed.active);
    assert_eq!(changed.events, ["BOOKING_RESCHEDULED"]);
    assert_eq!(changed.subscriber_url, made.subscriber_url, "left alone");
    assert_eq!(changed.secret_sealed, made.secret_sealed, "left alone");
    let second = store
        .create_webhook(acme, &subscription("https://hooks.acme.test/two"))
        .await
        .unwrap();
    let listed: Vec<_> = store
        .list_webhooks(acme)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, [made.id, second.id]);
    assert!(store.delete_webhook(acme, made.id).await.unwrap());
    assert!(!store.delete_webhook(acme, made.id).await.unwrap());
    assert_eq!(store.get_webhook(acme, made.id).await.unwrap(), None);
}

pub async fn the_other_tenant_neither_sees_nor_changes_a_webhook(store: &dyn Store) {
    let world = world(store).await;
    let ours = store
        .create_webhook(world.acme.id, &subscription("https://hooks.acme.test/in"))
        .await
        .unwrap();
    let globex = world.globex.id;
    assert!(store.list_webhooks(globex).await.unwrap().is_empty());
    assert_eq!(store.get_webhook(globex, ours.id).await.unwrap(), None);
    let patch = WebhookPatch {
        active: Some(false),
        ..WebhookPatch::default()
    };
    assert_eq!(
        store.update_webhook(globex, ours.id, &patch).await.unwrap(),
        None
    );
    assert!(!store.delete_webhook(globex, ours.id).await.unwrap());
    assert!(
        store
            .get_webhook(world.acme.id, ours.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
}

pub async fn a_delivery_is_one_row_per_job_counting_attempts_and_holds_back_later_events(
    store: &dyn Store,
) {
    let world = world(store).await;
    let acme = world.acme.id;
    let hook = store
        .create_webhook(acme, &subscription("https://hooks.acme.test/in"))
        .await
        .unwrap();
    let booking = BookingId::new();
    let (first_job, second_job) = (Uuid::now_v7(), Uuid::now_v7());
    let first = attempt(
        hook.id,
        first_job,
        booking,
        "2030-01-01T10:00:00Z",
        DeliveryStatus::Retrying,
    );
    store.record_webhook_attempt(acme, &first).await.unwrap();
    let again = store.record_webhook_attempt(acme, &first).await.unwrap();
    assert_eq!(
        (again.attempts, again.status),
        (2, DeliveryStatus::Retrying)
    );
    assert_eq!(again.response_code, Some(503));

    // The booking's next event waits while the first is retrying; the first waits for nobody.
    let later = crate::fixtures::at("2030-01-01T10:05:00Z");
    assert!(
        store
            .earlier_webhook_delivery_pending(acme, hook.id, booking, later, second_job)
            .await
            .unwrap()
    );
    assert!(
        !store
            .earlier_webhook_delivery_pending(
                acme,
                hook.id,
                booking,
                first.job_created_at,
                first_job
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .earlier_webhook_delivery_pending(acme, hook.id, BookingId::new(), later, second_job)
            .await
            .unwrap(),
        "another booking's events do not wait"
    );

    let delivered = WebhookAttempt {
        status: DeliveryStatus::Delivered,
        response_code: Some(200),
        error: None,
        ..first.clone()
    };
    let done = store
        .record_webhook_attempt(acme, &delivered)
        .await
        .unwrap();
    assert_eq!(
        (done.attempts, done.status, done.error),
        (3, DeliveryStatus::Delivered, None)
    );
    assert!(
        !store
            .earlier_webhook_delivery_pending(acme, hook.id, booking, later, second_job)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .find_webhook_delivery(acme, hook.id, first_job)
            .await
            .unwrap()
            .map(|d| d.status),
        Some(DeliveryStatus::Delivered)
    );
    store
        .record_webhook_attempt(
            acme,
            &attempt(
                hook.id,
                second_job,
                booking,
                "2030-01-01T10:05:00Z",
                DeliveryStatus::Retrying,
            ),
        )
        .await
        .unwrap();
    let log: Vec<_> = store
        .list_webhook_deliveries(acme, hook.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.job_id)
        .collect();
    assert_eq!(log, [second_job, first_job], "newest first");
    assert!(
        store
            .list_webhook_deliveries(world.globex.id, hook.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn a_webhook_secret_is_listed_for_key_rotation_and_replaced_only_if_unchanged(
    store: &dyn Store,
) {
    let world = world(store).await;
    let theirs = store
        .create_webhook(
            world.globex.id,
            &subscription("https://hooks.globex.test/in"),
        )
        .await
        .unwrap();
    let secrets = store.sealed_secrets().await.unwrap();
    let listed = secrets
        .iter()
        .find(|s| s.column == SealedColumn::WebhookSecret && s.id == theirs.id)
        .expect("listed across tenants")
        .clone();
    assert_eq!(listed.value, theirs.secret_sealed);
    let rotated = SealedSecret {
        value: "v1:k2:new".into(),
        ..listed.clone()
    };
    assert!(
        store
            .replace_sealed_secret(&rotated, &listed.value)
            .await
            .unwrap()
    );
    assert!(
        !store
            .replace_sealed_secret(&rotated, &listed.value)
            .await
            .unwrap()
    );
    let now = store
        .get_webhook(world.globex.id, theirs.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.secret_sealed, "v1:k2:new");
}
