//! The tools as the definitions endpoint and MCP list them, with argument schemas voice platforms
//! accept.

use super::*;

/// A tool as the definitions and MCP list it.
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON schema of the arguments: a plain object schema, subschemas inlined.
    pub schema: fn() -> Value,
}
/// The voice tools, in the order an agent usually needs them.
pub fn tool_specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "check_availability",
            description: "Find open appointment times. Give a date (or a range) and optionally a \
                part of the day; answers at most three options spread over that time, each with a \
                slot_id to book, plus a one-line summary to read out. When the day is full it \
                names the nearest days with openings.",
            schema: args_schema::<CheckAvailabilityArgs>,
        },
        ToolSpec {
            name: "book_appointment",
            description: "Book an appointment for the caller: pass the slot_id of the option \
                they chose (or a start_time) and their name, phone and e-mail. Answers one \
                sentence to read out, with the confirmation code spelled letter by letter.",
            schema: args_schema::<BookAppointmentArgs>,
        },
        ToolSpec {
            name: "find_booking",
            description: "Look up the caller's appointment by confirmation code, or by the phone \
                number or e-mail it was booked with.",
            schema: args_schema::<FindBookingArgs>,
        },
        ToolSpec {
            name: "cancel_booking",
            description: "Cancel the caller's appointment by its confirmation code. Confirm with \
                the caller before calling this.",
            schema: args_schema::<CancelBookingArgs>,
        },
        ToolSpec {
            name: "reschedule_booking",
            description: "Move the caller's appointment to a new time: its confirmation code and \
                the slot_id of the new option (or a start_time). The code stays the same.",
            schema: args_schema::<RescheduleBookingArgs>,
        },
        ToolSpec {
            name: "show_booking_calendar",
            description: "On a web call, open the booking calendar on the caller's screen, set \
                to the days and part of the day they asked about (e.g. date \"next week\", \
                part_of_day \"afternoon\"). With prefer or weekday (and for a returning \
                caller, their previous host) it puts the best times first and names them in \
                `suggested`. Answers whether their browser was listening; if not, offer times \
                by voice with check_availability.",
            schema: args_schema::<ShowCalendarArgs>,
        },
        ToolSpec {
            name: "get_call_booking_state",
            description: "What the caller has booked during this call, including in the \
                calendar on their screen, with a line to read out (\"I see you've booked \
                Tuesday at 2 PM\"). Call it after showing the calendar instead of asking again.",
            schema: args_schema::<CallBookingStateArgs>,
        },
    ]
}
/// The schema of a tool's arguments as voice platforms accept it: an inline object schema
/// without `$schema` or titles, optional fields typed as their value (absence means "not
/// given", and some platforms refuse `["string","null"]`).
pub fn args_schema<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    clean_schema(&mut schema);
    if let Value::Object(map) = &mut schema {
        map.remove("$schema");
        map.remove("title");
        map.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}
pub(crate) fn clean_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1 {
                    map.insert("type".into(), kept[0].clone());
                }
            }
            // Option<enum> comes out as anyOf [enum, null]: keep the enum.
            if let Some(Value::Array(any_of)) = map.get("anyOf") {
                let kept: Vec<Value> = any_of
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if kept.len() == 1
                    && let Value::Object(inner) = &kept[0]
                {
                    let inner = inner.clone();
                    map.remove("anyOf");
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            }
            if let Some(Value::Array(variants)) = map.get_mut("enum") {
                variants.retain(|v| !v.is_null());
            }
            map.remove("title");
            map.remove("format");
            // Defaults of `null` say nothing a model needs.
            if map.get("default").is_some_and(Value::is_null) {
                map.remove("default");
            }
            for child in map.values_mut() {
                clean_schema(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean_schema),
        _ => {}
    }
}
