//! SMS opt-outs: a STOP is kept until a START, for the whole server.

use pillow_store::*;

/// A number that replied STOP is opted out, once however often it says so, until START.
pub async fn a_stop_is_kept_once_until_a_start(store: &dyn Store) {
    let phone = "+15555550123";
    assert_eq!(store.get_sms_opt_out(phone).await.unwrap(), None);
    let first: jiff::Timestamp = "2026-03-10T10:00:00Z".parse().unwrap();
    store.set_sms_opt_out(phone, true, first).await.unwrap();
    let later = first + jiff::SignedDuration::from_hours(1);
    store.set_sms_opt_out(phone, true, later).await.unwrap();
    assert_eq!(
        store.get_sms_opt_out(phone).await.unwrap(),
        Some(SmsOptOut {
            phone: phone.into(),
            opted_out_at: first
        })
    );
    assert_eq!(store.get_sms_opt_out("+15555550124").await.unwrap(), None);
    store.set_sms_opt_out(phone, false, later).await.unwrap();
    assert_eq!(store.get_sms_opt_out(phone).await.unwrap(), None);
    store.set_sms_opt_out(phone, false, later).await.unwrap();
}
