//! The store story: named cases every [`Store`] backend must pass.
//!
//! Each case is one behaviour, named as a sentence, and sets up what it needs on a fresh store,
//! so one broken expectation fails one case and hides no other. A backend runs them all with
//! [`store_story_cases!`] in its `tests/story.rs`; the list lives here, once.
//!
//! Kept out of `pillow-store` so production builds carry neither the cases nor tokio; backends
//! take this crate as a dev-dependency only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use pillow_store::Store;

pub mod appointment_types;
pub mod bookings;
pub mod connections;
pub mod events;
pub mod fixtures;
pub mod idempotency;
pub mod notices;
pub mod outbox;
pub mod owners;
pub mod removal;
pub mod retention;
pub mod rules;
pub mod sessions;
pub mod settings;
pub mod sms;
pub mod tenants;
pub mod webhooks;

/// One case's empty store, and how to tidy up after it.
pub struct Fresh {
    store: Arc<dyn Store>,
    cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Fresh {
    pub fn new(store: impl Store) -> Self {
        Fresh {
            store: Arc::new(store),
            cleanup: None,
        }
    }

    /// Runs `cleanup` once the case has passed, after the store is dropped. A failed case skips
    /// it (a PostgreSQL database is left to look at); what the future owns is dropped anyway.
    pub fn then(mut self, cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cleanup = Some(Box::pin(cleanup));
        self
    }

    /// The store, for the cases that take `&dyn Store`.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The store, for the concurrency cases that share it between tasks.
    pub fn shared(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Drops the store, then runs the cleanup.
    pub async fn finish(self) {
        drop(self.store);
        if let Some(cleanup) = self.cleanup {
            cleanup.await;
        }
    }
}

/// Every case of the story as a `#[tokio::test]`, one module per resource.
///
/// `$fresh` is a future of `Option<Fresh>`, awaited anew for each case; `None` means the
/// backend is unavailable here, and the case passes having done nothing (the future says why).
///
/// ```text
/// async fn fresh() -> Option<pillow_store_story::Fresh> { /* ... */ }
/// pillow_store_story::store_story_cases!(fresh());
/// ```
///
/// `store_story_cases!(@names)` is the same list as `"module::case"` strings; this crate's own
/// test checks it against the `pub async fn`s of its modules, so no case is left out.
#[macro_export]
macro_rules! store_story_cases {
    (@names) => {
        $crate::store_story_cases! { @list (names) }
    };
    (@list $mode:tt) => {
        $crate::store_story_cases! { @emit $mode
            tenants [
                a_new_tenant_is_found_by_name_and_by_id,
                a_new_user_is_listed_and_found_in_its_tenant,
                the_same_email_twice_in_one_tenant_is_a_conflict,
                the_same_email_may_sign_in_to_two_tenants_whatever_its_case,
                the_other_tenant_neither_sees_nor_changes_a_user,
                a_user_patch_changes_what_it_names_and_keeps_the_email,
                deleting_a_user_removes_only_that_user,
                an_api_key_is_found_by_its_prefix_alone,
                a_new_agent_is_listed_and_found,
                the_other_tenant_neither_sees_nor_changes_an_agent,
                an_agent_patch_sets_and_clears_the_calcom_fields,
                a_deleted_agent_is_gone,
            ] [];
            rules [
                a_new_user_starts_at_busy_version_zero,
                a_rule_reads_back_whole_and_bumps_its_users_version,
                a_second_default_rule_demotes_the_first,
                a_rule_that_is_not_the_default_leaves_the_default_alone,
                a_rule_bumps_only_its_own_users_version,
                rules_are_listed_by_user_and_by_tenant_in_creation_order,
                default_rules_are_those_of_the_users_asked_for,
                replacing_a_rule_keeps_its_id_its_user_and_its_creation_time,
                a_replacement_made_the_default_demotes_the_old_default,
                replacing_the_default_with_itself_as_the_default_is_fine,
                the_other_tenant_neither_sees_nor_changes_a_rule,
                a_rule_for_another_tenants_user_or_for_no_user_is_refused,
                deleting_the_default_rule_leaves_the_user_without_one,
                busy_versions_are_those_of_the_tenants_users_asked_for,
                deleting_a_user_deletes_the_users_rules,
                racing_defaults_for_one_user_all_succeed_and_leave_one_default,
            ] [];
            events [
                a_new_event_reads_back_and_bumps_its_users_version,
                a_provider_event_keeps_its_external_id_and_source,
                every_new_event_bumps_its_users_version_once,
                the_same_provider_event_twice_is_a_conflict,
                an_event_for_another_tenants_user_is_refused,
                busy_time_is_the_blocking_events_overlapping_the_range,
                busy_time_of_no_users_or_of_another_tenants_user_is_empty,
                titled_busy_time_is_the_blocking_events_in_start_order,
                events_are_listed_by_start_then_id,
                a_listing_in_a_range_holds_the_users_events_overlapping_it,
                a_listing_bounded_on_one_side_widens_all_day_events_by_a_day,
                replacing_an_event_changes_every_mutable_field_but_not_its_user,
                the_other_tenant_neither_sees_nor_changes_an_event,
                a_deleted_event_is_gone_and_bumps_the_version_once,
                deleting_a_user_deletes_the_users_events,
            ] [];
            bookings [
                a_new_booking_reads_back_whole,
                a_bookings_channel_reads_back_and_filters_the_list,
                a_booking_is_found_by_its_exact_code,
                a_booking_has_its_own_event_without_the_buffers,
                a_booking_inside_another_ones_buffer_is_refused,
                a_booking_whose_own_buffer_reaches_another_is_refused,
                a_booking_just_after_another_ones_buffer_is_accepted,
                a_blocking_event_refuses_bookings_that_meet_it_buffers_included,
                transparent_and_cancelled_events_do_not_block,
                an_all_day_event_blocks_its_date_in_the_users_zone_only,
                an_event_marked_as_a_bookings_own_is_not_busy_time,
                every_booking_and_event_bumps_the_users_version_once,
                another_user_may_be_booked_at_the_same_time,
                a_code_already_used_in_the_tenant_is_refused,
                a_code_used_in_another_tenant_is_accepted,
                busy_time_is_each_bookings_occupied_range_and_the_blocking_events,
                a_bookings_busy_time_includes_its_buffers,
                a_range_touching_only_a_buffer_still_sees_the_booking,
                a_long_event_or_booking_begun_days_before_a_range_still_blocks_it,
                cancelling_a_booking_keeps_its_time_and_records_why,
                a_cancelled_bookings_own_event_is_cancelled_too,
                cancelling_twice_changes_nothing_and_queues_no_jobs,
                a_cancelled_booking_frees_its_slot,
                rescheduling_into_a_taken_time_leaves_the_booking_where_it_was,
                rescheduling_into_a_free_time_moves_the_booking_and_its_event,
                a_rescheduled_bookings_old_time_is_free_again,
                a_cancelled_booking_cannot_be_rescheduled,
                changing_a_booking_that_does_not_exist_finds_nothing,
                member_stats_count_upcoming_confirmed_bookings_and_the_last_booked,
                a_member_never_booked_has_empty_stats,
                bookings_are_listed_by_start_then_id,
                bookings_are_filtered_by_status_by_user_and_by_agent,
                a_listing_window_holds_the_bookings_overlapping_it_buffers_not_counted,
                a_listing_limit_keeps_the_first_bookings,
                the_other_tenant_sees_no_bookings,
                the_same_code_in_another_tenant_is_another_booking,
                the_other_tenant_can_neither_cancel_nor_move_a_booking,
                a_booking_for_another_tenants_user_or_agent_is_refused,
                a_capped_booking_is_refused_once_the_member_has_the_most_allowed,
                cancelled_bookings_and_other_members_do_not_count_toward_a_cap,
                a_capped_move_is_refused_onto_a_full_day_and_allowed_within_its_own,
                a_series_moves_together_or_not_at_all_when_one_new_time_is_taken,
            ] [
                (fifty_racing_bookings_of_one_slot_make_exactly_one, 4),
                (fifty_racing_capped_bookings_make_exactly_the_cap, 4),
            ];
            idempotency [
                a_first_request_starts_and_a_second_finds_it_in_progress,
                a_retry_with_another_body_sees_the_first_requests_hash,
                the_same_key_in_another_tenant_is_another_key,
                a_booking_records_its_answer_under_its_key,
                a_done_key_is_never_taken_over,
                abandoning_keeps_a_done_key,
                a_refused_booking_leaves_its_key_in_progress,
                a_claim_is_in_progress_until_it_goes_stale,
                a_stale_claim_is_taken_over_and_the_new_claim_is_fresh,
                finishing_a_request_that_changed_nothing_records_its_answer,
                abandoning_after_a_failure_lets_the_retry_run,
                cancelling_records_its_answer_even_when_cancelled_already,
                rescheduling_records_its_answer,
            ] [];
            outbox [
                an_empty_outbox_has_no_backlog,
                jobs_written_with_a_booking_are_queued_pending_in_its_tenant,
                the_backlog_counts_the_jobs_and_dates_the_oldest_pending,
                a_job_is_claimed_once_across_tenants_until_its_lease_ends,
                running_jobs_count_in_the_backlog_but_none_is_pending,
                a_failed_job_with_a_retry_time_is_claimable_from_then_on,
                a_job_whose_lease_ended_is_claimed_again,
                done_and_given_up_jobs_are_never_claimed_again,
                a_claim_takes_at_most_its_limit_oldest_first,
                a_batch_completed_at_once_is_never_claimed_again_and_the_rest_is,
                a_job_due_later_is_claimed_only_from_its_time_on,
            ] [
                (two_workers_claiming_at_once_never_get_the_same_job, 2),
            ];
            settings [
                an_agent_starts_without_booking_settings,
                booking_settings_read_back_whole,
                putting_booking_settings_again_replaces_them,
                the_other_tenant_neither_sees_nor_writes_an_agents_settings,
                settings_for_no_agent_are_refused,
                deleting_an_agent_deletes_its_settings,
            ] [];
            appointment_types [
                an_appointment_type_reads_back_whole_and_types_list_in_creation_order,
                a_slug_used_by_another_type_of_the_agent_is_a_conflict,
                replacing_and_deleting_an_appointment_type_touch_only_that_type,
                the_other_tenant_neither_sees_nor_changes_an_appointment_type,
                deleting_an_agent_deletes_its_appointment_types,
            ] [];
            notices [
                a_bookings_notice_sequence_rises_by_one_on_every_change_of_it_alone,
                another_tenants_booking_has_no_notice_sequence,
                a_notification_template_is_written_replaced_and_removed,
                the_other_tenant_neither_sees_nor_removes_a_notification_template,
            ] [];
            sms [
                a_stop_is_kept_once_until_a_start,
            ] [];
            webhooks [
                a_webhook_reads_back_changes_and_is_deleted,
                the_other_tenant_neither_sees_nor_changes_a_webhook,
                a_delivery_is_one_row_per_job_counting_attempts_and_holds_back_later_events,
                a_webhook_secret_is_listed_for_key_rotation_and_replaced_only_if_unchanged,
            ] [];
            retention [
                purging_with_cut_offs_before_everything_removes_nothing,
                old_idempotency_records_and_done_jobs_are_purged_in_every_tenant,
                newer_records_and_running_or_failed_jobs_stay,
            ] [];
            connections [
                a_new_connection_is_active_with_sync_enabled_and_no_sync_token,
                reconnecting_the_same_account_keeps_one_row_and_the_refresh_token,
                the_other_tenant_neither_sees_nor_changes_a_connection,
                a_connection_for_another_tenants_user_is_refused,
                a_connection_patch_touches_only_what_it_names,
                a_push_channel_finds_its_connection_in_any_tenant,
                a_connection_lease_has_one_holder_who_may_extend_it,
                a_leased_connection_is_not_due,
                an_ended_lease_is_free,
                a_released_due_connection_is_leased_to_one_process,
                a_connection_that_needs_reauthorisation_is_never_due,
                synced_events_upsert_by_external_id_and_tombstones_delete,
                a_sync_never_overwrites_our_own_events,
                pruning_after_a_full_sync_keeps_only_what_google_still_has,
                sealed_secrets_are_listed_across_tenants_and_replaced_only_if_unchanged,
                disconnecting_deletes_the_synced_events_and_unlinks_our_own,
                synced_events_keep_their_providers_source_through_upsert_tombstone_prune_and_disconnect,
            ] [
                (two_processes_leasing_due_connections_never_get_the_same_one, 2),
            ];
            owners [
                the_only_owner_can_be_neither_demoted_nor_deleted,
                an_owner_with_a_fellow_owner_may_step_down_or_be_deleted,
            ] [
                (two_racing_demotions_of_the_last_two_owners_leave_one_owner, 2),
            ];
            removal [
                a_removed_user_keeps_their_bookings_and_is_found_by_no_list_login_or_id,
                a_user_with_an_upcoming_booking_is_removed_only_once_it_is_handed_over,
                a_handover_to_a_busy_or_full_member_changes_nothing,
            ] [];
            sessions [
                a_live_session_is_found_by_its_token_hash_alone,
                an_expired_session_is_not_found,
                a_revoked_session_is_never_found_again,
                the_other_tenant_cannot_revoke_a_session,
                a_session_for_another_tenants_user_is_refused,
                deleting_a_user_ends_the_users_sessions,
            ] [];
        }
    };
    (@emit (names) $($module:ident [$($case:ident),* $(,)?] [$(($shared:ident, $threads:literal)),* $(,)?];)*) => {
        &[$(
            $(concat!(stringify!($module), "::", stringify!($case)),)*
            $(concat!(stringify!($module), "::", stringify!($shared)),)*
        )*]
    };
    (@emit (tests $fresh:expr) $($module:ident [$($case:ident),* $(,)?] [$(($shared:ident, $threads:literal)),* $(,)?];)*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test]
                    async fn $case() {
                        let Some(fresh) = $fresh.await else { return };
                        $crate::$module::$case(fresh.store()).await;
                        fresh.finish().await;
                    }
                )*
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                    async fn $shared() {
                        let Some(fresh) = $fresh.await else { return };
                        $crate::$module::$shared(fresh.shared()).await;
                        fresh.finish().await;
                    }
                )*
            }
        )*
    };
    ($fresh:expr) => {
        $crate::store_story_cases! { @list (tests $fresh) }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    /// `module::case` for every `pub async fn` under `dir`; a sub-folder counts as its module.
    fn cases_in(dir: &Path, module: Option<&str>, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            if path.is_dir() {
                cases_in(&path, Some(module.unwrap_or(&stem)), found);
                continue;
            }
            let this = module.unwrap_or(&stem);
            // Not cases: the crate root and the shared helpers.
            if ["lib", "fixtures"].contains(&this) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name = rest.split(['(', '<']).next().unwrap();
                    found.insert(format!("{this}::{name}"));
                }
            }
        }
    }

    #[test]
    fn every_case_is_in_the_list_once() {
        let listed: &[&str] = store_story_cases!(@names);
        let unique: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
        assert_eq!(unique.len(), listed.len(), "a case is listed twice");
        let mut defined = BTreeSet::new();
        cases_in(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            None,
            &mut defined,
        );
        let unlisted: Vec<_> = defined.difference(&unique).collect();
        let undefined: Vec<_> = unique.difference(&defined).collect();
        assert!(
            unlisted.is_empty() && undefined.is_empty(),
            "cases not in store_story_cases!: {unlisted:?}; listed but not defined: {undefined:?}"
        );
    }
}
