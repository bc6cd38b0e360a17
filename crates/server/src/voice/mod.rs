//! Voice agents on live calls: the tools they call ([`tools`]), the words they speak
//! ([`speech`]), and the envelopes of each platform ([`retell`], [`vapi`]) plus ready-to-paste
//! tool definitions ([`definitions`]). The routes are in `http/voice.rs`.

pub mod definitions;
pub mod retell;
pub mod speech;
pub mod tools;
pub mod vapi;

pub use tools::{
    AppointmentView, AvailabilityAnswer, BookAppointmentArgs, BookingAnswer, CallBookingState,
    CallBookingStateArgs, CancelAnswer, CancelBookingArgs, CheckAvailabilityArgs, FindAnswer,
    FindBookingArgs, RescheduleAnswer, RescheduleBookingArgs, ShowCalendarAnswer, ShowCalendarArgs,
    SlotOption, ToolContext, ToolError, ToolSpec, book_appointment, call_tool, cancel_booking,
    check_availability, find_booking, get_call_booking_state, reschedule_booking,
    show_booking_calendar, tool_specs,
};
