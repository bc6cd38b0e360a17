//! The words of each message: a subject and a plain-text body per kind of message, rendered
//! with `minijinja` in a sandbox (no file access, no unknown variables, bounded work), and the
//! HTML part made from the rendered text so both parts always say the same.

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::outbox::Change;

/// How much work one template may do before it is stopped: enough for any message, too little
/// for a loop that would hold the worker.
const FUEL: u64 = 50_000;

/// The kinds of message a tenant may word for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    BookingCreated,
    BookingRescheduled,
    BookingCancelled,
    /// Before the appointment, at the agent's reminder offsets.
    BookingReminder,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] = [
        MessageKind::BookingCreated,
        MessageKind::BookingRescheduled,
        MessageKind::BookingCancelled,
        MessageKind::BookingReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::BookingCreated => "booking_created",
            MessageKind::BookingRescheduled => "booking_rescheduled",
            MessageKind::BookingCancelled => "booking_cancelled",
            MessageKind::BookingReminder => "booking_reminder",
        }
    }

    pub fn parse(name: &str) -> Option<MessageKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn of(change: Change) -> MessageKind {
        match change {
            Change::Created => MessageKind::BookingCreated,
            Change::Rescheduled => MessageKind::BookingRescheduled,
            Change::Cancelled => MessageKind::BookingCancelled,
        }
    }
}

/// A subject and a plain-text body, as written (not yet rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// The built-in wording of each kind; `recipient` is `caller` or `member`.
pub fn default_template(kind: MessageKind) -> Template {
    let (subject, opening) = match kind {
        MessageKind::BookingCreated => (
            "Confirmed: {{ title }} on {{ date }} at {{ time }}",
            "{% if recipient == \"member\" %}{{ customer_name }} booked time with you.\
             {% else %}Hi {{ customer_name }}, your appointment with {{ host_name }} is \
             confirmed.{% endif %}",
        ),
        MessageKind::BookingRescheduled => (
            "Moved: {{ title }} is now on {{ date }} at {{ time }}",
            "{% if recipient == \"member\" %}{{ customer_name }}'s appointment with you has \
             moved.{% else %}Hi {{ customer_name }}, your appointment with {{ host_name }} has \
             moved to a new time.{% endif %}",
        ),
        MessageKind::BookingCancelled => (
            "Cancelled: {{ title }} on {{ date }} at {{ time }}",
            "{% if recipient == \"member\" %}{{ customer_name }}'s appointment with you is \
             cancelled.{% else %}Hi {{ customer_name }}, your appointment with {{ host_name }} \
             is cancelled.{% endif %}",
        ),
        MessageKind::BookingReminder => (
            "Reminder: {{ title }} on {{ date }} at {{ time }}",
            "{% if recipient == \"member\" %}A reminder: {{ customer_name }} is booked with you.\
             {% else %}Hi {{ customer_name }}, a reminder of your appointment with \
             {{ host_name }}.{% endif %}",
        ),
    };
    let body = format!(
        "{opening}\n\n\
         When: {{{{ date }}}}, {{{{ time }}}} to {{{{ end_time }}}} ({{{{ time_zone }}}})\n\
         With: {{{{ host_name }}}}\n\
         Confirmation code: {{{{ confirmation_code }}}}\n\
         {{% if notes %}}Notes: {{{{ notes }}}}\n{{% endif %}}\n\
         {{% if recipient == \"caller\" %}}{{% if reschedule_url %}}Change the time: \
         {{{{ reschedule_url }}}}\nCancel: {{{{ cancel_url }}}}\n\n{{% endif %}}Keep the \
         confirmation code: it lets you cancel or change the appointment.{{% endif %}}"
    );
    Template {
        subject: subject.to_string(),
        body,
    }
}

/// What a template may use: the variables the booking title and description templates know,
/// and a few more about the change.
#[derive(Debug, Clone, Serialize)]
pub struct MessageFacts {
    pub recipient: &'static str,
    pub customer_name: String,
    pub customer_email: String,
    pub customer_phone: String,
    pub notes: String,
    pub host_name: String,
    pub agent_name: String,
    pub title: String,
    /// The start's local date and time, and the end's local time, in `time_zone`.
    pub date: String,
    pub time: String,
    pub end_time: String,
    /// The IANA zone and its abbreviation at the start, e.g. `America/New_York (EST)`.
    pub time_zone: String,
    pub duration: String,
    pub confirmation_code: String,
    /// Signed, expiring links to the hosted page that reschedule or cancel this booking
    /// without the code; empty in messages to the member, for a cancelled booking, or for one
    /// made without an agent (it has no hosted page).
    pub reschedule_url: String,
    pub cancel_url: String,
}

impl MessageFacts {
    /// Made-up facts for previews and for checking a template before it is saved.
    pub fn sample() -> MessageFacts {
        MessageFacts {
            recipient: "caller",
            customer_name: "Jane Doe".into(),
            customer_email: "jane@example.com".into(),
            customer_phone: "+15555550123".into(),
            notes: "Wants to talk about pricing".into(),
            host_name: "Ada Lovelace".into(),
            agent_name: "Front desk".into(),
            title: "Appointment with Jane Doe".into(),
            date: "Tuesday, March 10, 2026".into(),
            time: "2:30 PM".into(),
            end_time: "3:00 PM".into(),
            time_zone: "America/New_York (EDT)".into(),
            duration: "30".into(),
            confirmation_code: "K7M4PQ2XR".into(),
            reschedule_url: "https://calendar.example.com/book/agent?manage=ML_reschedule".into(),
            cancel_url: "https://calendar.example.com/book/agent?manage=ML_cancel".into(),
        }
    }
}

/// A message ready to send: its subject and its two parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a template cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{part}: {message}")]
pub struct TemplateError {
    /// `subject` or `body`.
    pub part: &'static str,
    pub message: String,
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A misspelt variable is an error at save time, never a blank in a sent message.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env
}

fn render_part(
    env: &Environment<'_>,
    part: &'static str,
    source: &str,
    facts: &MessageFacts,
) -> Result<String, TemplateError> {
    let error = |e: minijinja::Error| TemplateError {
        part,
        message: e.to_string(),
    };
    env.render_str(source, facts).map_err(error)
}

/// Renders `template` with `facts`: the subject on one line, the text, and HTML made from the
/// text (escaped, paragraphs kept).
///
/// # Errors
/// A template that does not parse, names an unknown variable or filter, or runs too long.
pub fn render(template: &Template, facts: &MessageFacts) -> Result<Rendered, TemplateError> {
    let env = environment();
    let subject = render_part(&env, "subject", &template.subject, facts)?;
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = render_part(&env, "body", &template.body, facts)?;
    let paragraphs: Vec<Vec<&str>> = text
        .split("\n\n")
        .map(|p| p.lines().filter(|l| !l.trim().is_empty()).collect())
        .filter(|p: &Vec<&str>| !p.is_empty())
        .collect();
    let mut html_env = environment();
    html_env
        .add_template("message.html", HTML)
        .map_err(|e| TemplateError {
            part: "body",
            message: e.to_string(),
        })?;
    let html = html_env
        .get_template("message.html")
        .and_then(|t| t.render(minijinja::context! { paragraphs, subject }))
        .map_err(|e| TemplateError {
            part: "body",
            message: e.to_string(),
        })?;
    Ok(Rendered {
        subject,
        text,
        html,
    })
}

/// The HTML part; `.html` makes minijinja escape every value.
const HTML: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{{ subject }}</title></head>\
<body style=\"font-family: sans-serif; line-height: 1.5\">\
{% for lines in paragraphs %}<p>{% for line in lines %}{{ line }}{% if not loop.last %}<br>{% endif %}{% endfor %}</p>\
{% endfor %}</body></html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_renders_for_both_recipients_with_the_code_the_host_and_the_zone() {
        for kind in MessageKind::ALL {
            for recipient in ["caller", "member"] {
                let facts = MessageFacts {
                    recipient,
                    ..MessageFacts::sample()
                };
                let message = render(&default_template(kind), &facts).unwrap();
                // MiniJinja escapes `/` in HTML; a reader sees a slash.
                let html = message.html.replace("&#x2f;", "/");
                for part in [&message.text, &html] {
                    assert!(part.contains("K7M4PQ2XR"), "{kind:?}: {part}");
                    assert!(part.contains("Ada Lovelace"), "{kind:?}: {part}");
                    assert!(part.contains("America/New_York (EDT)"), "{kind:?}: {part}");
                }
                assert!(message.subject.contains("March 10"), "{}", message.subject);
            }
        }
    }

    #[test]
    fn the_html_part_escapes_what_people_typed() {
        let facts = MessageFacts {
            customer_name: "<script>x</script>".into(),
            ..MessageFacts::sample()
        };
        let message = render(&default_template(MessageKind::BookingCreated), &facts).unwrap();
        assert!(!message.html.contains("<script>"), "{}", message.html);
        assert!(message.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn an_unknown_variable_a_syntax_error_and_an_endless_loop_are_refused() {
        let facts = MessageFacts::sample();
        let bad = |subject: &str, body: &str| {
            render(
                &Template {
                    subject: subject.into(),
                    body: body.into(),
                },
                &facts,
            )
            .unwrap_err()
        };
        assert_eq!(bad("{{ custmer_name }}", "ok").part, "subject");
        assert_eq!(bad("ok", "{% if %}").part, "body");
        bad(
            "ok",
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        );
    }
}
