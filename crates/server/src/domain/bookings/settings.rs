//! An agent's booking settings: who can be booked, how a team is chosen, and the templates.

use super::*;
use crate::domain::error::ErrorCode;
use crate::outbox::{Change, NotificationPlan, ReminderPlan};
use pillow_store::{BookingId, UserId};

// ---------------------------------------------------------------------------------------------
// Booking settings, as agents store them.

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    #[serde(default)]
    pub assignable_users: Vec<AssignableUser>,
    /// `round_robin`, `least_busy`, `priority`, `specific_user` or `collective` (one booking
    /// occupies every required host and every optional host free at the time).
    #[serde(default = "default_strategy")]
    pub distribution_strategy: String,
    /// For `specific_user`: who (default: the first assignable user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specific_user_id: Option<String>,
    #[serde(default)]
    pub event_type_config: EventTypeConfig,
    #[serde(default)]
    pub notifications: Notifications,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignableUser {
    pub user_id: String,
    /// Lower number = higher priority.
    #[serde(default)]
    pub priority: Option<i32>,
    #[serde(default)]
    pub calendar_provider_id: Option<String>,
    /// At most this many bookings starting on one local day of the member's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bookings_per_day: Option<i64>,
    /// At most this many bookings starting in one local week (Monday to Sunday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bookings_per_week: Option<i64>,
    /// Round robin share: weight 2 gets twice the bookings of weight 1 (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// For `collective`: a slot is offered only when this host is free (default false: the
    /// host joins when free). Other strategies ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// The most a per-member limit or weight may be: beyond any office's day, and small enough
/// that counts never overflow.
pub const MAX_LIMIT: i64 = 10_000;
pub const MAX_WEIGHT: i64 = 1_000;

impl AssignableUser {
    /// The member's limits, as the engine counts them.
    pub fn limits(&self) -> pillow_engine::HostLimits {
        let cap = |v: Option<i64>| v.and_then(|n| u32::try_from(n).ok());
        pillow_engine::HostLimits {
            per_day: cap(self.max_bookings_per_day),
            per_week: cap(self.max_bookings_per_week),
        }
    }

    /// Refuses a limit or weight that is not a whole number in range, naming its field.
    fn check_limits(&self, i: usize) -> DomainResult<()> {
        for (name, value) in [
            ("max_bookings_per_day", self.max_bookings_per_day),
            ("max_bookings_per_week", self.max_bookings_per_week),
        ] {
            if let Some(n) = value
                && !(1..=MAX_LIMIT).contains(&n)
            {
                return Err(DomainError::invalid(
                    &format!("assignable_users[{i}].{name}"),
                    ErrorCode::InvalidLimit,
                    format!(
                        "{name} is a whole number from 1 to {MAX_LIMIT}; leave it out for no limit."
                    ),
                ));
            }
        }
        if let Some(n) = self.weight
            && !(1..=MAX_WEIGHT).contains(&n)
        {
            return Err(DomainError::invalid(
                &format!("assignable_users[{i}].weight"),
                ErrorCode::InvalidWeight,
                format!("weight is a whole number from 1 to {MAX_WEIGHT} (default 1)."),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeConfig {
    /// Minutes.
    #[serde(default)]
    pub duration: Option<i64>,
    #[serde(default)]
    pub title_template: Option<String>,
    #[serde(default)]
    pub description_template: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub send_email: bool,
    #[serde(default)]
    pub send_sms: bool,
    /// Reminders to the caller, in minutes before the start; without it, a day and an hour
    /// before (`[1440, 60]`); `[]` for none. Sent on the channels that are on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Vec<i64>>,
}

/// The reminders an agent without its own list sends: a day and an hour before.
pub const DEFAULT_REMINDERS: [i64; 2] = [1440, 60];
/// At most this many reminders per booking, each at most this many minutes ahead (a week).
const MAX_REMINDERS: usize = 5;
const MAX_REMINDER_MINUTES: i64 = 7 * 1440;

impl Notifications {
    /// Minutes before the start at which the caller is reminded.
    pub fn reminder_offsets(&self) -> &[i64] {
        self.reminders.as_deref().unwrap_or(&DEFAULT_REMINDERS)
    }

    /// The messages a booking's `change` sends on the channels that are on: the e-mails,
    /// whose invite carries `sequence`, and a text; no reminders.
    pub fn notices(
        &self,
        change: Change,
        booking: BookingId,
        user: UserId,
        sequence: i32,
    ) -> NotificationPlan {
        NotificationPlan {
            email_sequence: self.send_email.then_some(sequence),
            sms: self.send_sms,
            ..NotificationPlan::new(change, booking, user)
        }
    }

    /// The reminders of a booking of `user` starting at `start`, made or moved at `now`, on
    /// the channels that are on.
    pub fn reminder_plan(
        &self,
        booking: BookingId,
        user: UserId,
        start: Timestamp,
        now: Timestamp,
    ) -> ReminderPlan {
        ReminderPlan {
            booking_id: booking,
            user_id: user,
            start,
            offsets: self.reminder_offsets().to_vec(),
            email: self.send_email,
            sms: self.send_sms,
            planned_at: now,
        }
    }

    fn check_reminders(&self) -> DomainResult<()> {
        let Some(list) = &self.reminders else {
            return Ok(());
        };
        let field = "notifications.reminders";
        if list.len() > MAX_REMINDERS {
            return Err(DomainError::invalid(
                field,
                ErrorCode::InvalidReminders,
                format!("At most {MAX_REMINDERS} reminders."),
            ));
        }
        for (i, minutes) in list.iter().enumerate() {
            if !(1..=MAX_REMINDER_MINUTES).contains(minutes) || list[..i].contains(minutes) {
                return Err(DomainError::invalid(
                    &format!("{field}[{i}]"),
                    ErrorCode::InvalidReminders,
                    format!(
                        "Each reminder is a different whole number of minutes before the start, \
                         from 1 to {MAX_REMINDER_MINUTES}."
                    ),
                ));
            }
        }
        Ok(())
    }
}

pub(crate) fn default_strategy() -> String {
    "round_robin".into()
}

pub const DEFAULT_TITLE: &str = "Appointment with {{customer_name}}";

pub const DEFAULT_DESCRIPTION: &str =
    "Phone: {{customer_phone}}\nEmail: {{customer_email}}\nNotes: {{notes}}";

/// Variables a title or description template may use.
pub const TEMPLATE_VARIABLES: [&str; 10] = [
    "customer_name",
    "customer_phone",
    "customer_email",
    "notes",
    "host_name",
    "agent_name",
    "date",
    "time",
    "duration",
    "confirmation_code",
];

/// The `{{name}}` variables a template uses, or the first malformed one.
pub(crate) fn template_variables(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| "a `{{` is never closed".to_string())?;
        names.push(after[..close].trim().to_string());
        rest = &after[close + 2..];
    }
    Ok(names)
}

/// Fills `{{name}}` placeholders; unknown ones were refused when the settings were saved.
pub fn render_template(template: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = after[..close].trim();
                out.push_str(values.get(name).map(String::as_str).unwrap_or(""));
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The strategy name of a collective team.
pub const COLLECTIVE: &str = "collective";

/// For a collective team, its required hosts in list order; `None` for any other strategy.
pub(crate) fn required_hosts(settings: &BookingSettings) -> Option<Vec<UserId>> {
    (settings.distribution_strategy == COLLECTIVE).then(|| {
        settings
            .assignable_users
            .iter()
            .filter(|u| u.required == Some(true))
            .filter_map(|u| u.user_id.parse::<UserId>().ok())
            .collect()
    })
}

pub(crate) fn parse_strategy(
    settings: &BookingSettings,
    members: &[UserId],
) -> DomainResult<Strategy<UserId>> {
    match settings.distribution_strategy.as_str() {
        // Collective books every free host at once; the order only decides which of the
        // required hosts leads (the first in the list), see [`super::Team::collective`].
        "round_robin" | COLLECTIVE => Ok(Strategy::RoundRobin),
        "least_busy" => Ok(Strategy::LeastBusy),
        "priority" => Ok(Strategy::Priority),
        "specific_user" => {
            let chosen = match &settings.specific_user_id {
                Some(raw) => raw.parse::<UserId>().map_err(|_| {
                    DomainError::invalid(
                        "specific_user_id",
                        ErrorCode::UnknownUser,
                        format!("{raw:?} is not a member of this tenant."),
                    )
                })?,
                None => *members.first().ok_or_else(|| {
                    DomainError::invalid(
                        "assignable_users",
                        ErrorCode::NoMembers,
                        "specific_user needs at least one assignable user.",
                    )
                })?,
            };
            Ok(Strategy::SpecificUser(chosen))
        }
        other => Err(DomainError::invalid(
            "distribution_strategy",
            ErrorCode::UnknownStrategy,
            format!(
                "{other:?} is not a strategy; use round_robin, least_busy, priority, specific_user or collective."
            ),
        )),
    }
}

/// Checks settings against the tenant's members; answers the members in list order.
pub async fn validate_settings(
    state: &AppState,
    tenant: TenantId,
    settings: &BookingSettings,
) -> DomainResult<Vec<UserId>> {
    let known: HashMap<UserId, User> = state
        .store
        .list_users(tenant)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let mut members = Vec::new();
    for (i, entry) in settings.assignable_users.iter().enumerate() {
        let field = format!("assignable_users[{i}].user_id");
        let id = entry
            .user_id
            .parse::<UserId>()
            .ok()
            .filter(|id| known.contains_key(id))
            .ok_or_else(|| {
                DomainError::invalid(
                    &field,
                    ErrorCode::UnknownUser,
                    format!("{:?} is not a member of this tenant.", entry.user_id),
                )
            })?;
        if members.contains(&id) {
            return Err(DomainError::invalid(
                &field,
                ErrorCode::DuplicateUser,
                "Each member may appear once in assignable_users.",
            ));
        }
        entry.check_limits(i)?;
        members.push(id);
    }
    if let Strategy::SpecificUser(id) = parse_strategy(settings, &members)?
        && !members.contains(&id)
    {
        return Err(DomainError::invalid(
            "specific_user_id",
            ErrorCode::UnknownUser,
            "specific_user_id must be one of the assignable users.",
        ));
    }
    if required_hosts(settings).is_some_and(|r| r.is_empty()) {
        return Err(DomainError::invalid(
            "assignable_users",
            ErrorCode::NoRequiredHost,
            "A collective agent needs at least one assignable user with \"required\": true.",
        ));
    }
    settings.notifications.check_reminders()?;
    let config = &settings.event_type_config;
    if let Some(minutes) = config.duration
        && !(5..=1440).contains(&minutes)
    {
        return Err(DomainError::invalid(
            "event_type_config.duration",
            ErrorCode::InvalidDuration,
            "The duration is a whole number of minutes from 5 to 1440.",
        ));
    }
    for (field, template) in [
        ("event_type_config.title_template", &config.title_template),
        (
            "event_type_config.description_template",
            &config.description_template,
        ),
    ] {
        let Some(template) = template else { continue };
        let names = template_variables(template)
            .map_err(|why| DomainError::invalid(field, ErrorCode::InvalidTemplate, why))?;
        if let Some(unknown) = names
            .iter()
            .find(|n| !TEMPLATE_VARIABLES.contains(&n.as_str()))
        {
            return Err(DomainError::invalid(
                field,
                ErrorCode::UnknownTemplateVariable,
                format!(
                    "{{{{{unknown}}}}} is not a template variable; use {}.",
                    TEMPLATE_VARIABLES.join(", ")
                ),
            ));
        }
    }
    Ok(members)
}
