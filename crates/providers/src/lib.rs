//! Calendar providers and the secrets they need.
//!
//! For now this holds [`crypto`], the encryption of secrets we must be able to use again
//! (OAuth tokens, Cal.com API keys). Provider clients join it as the integrations land.

pub mod calcom;
pub mod caldav;
pub mod crypto;
pub mod google;
pub mod microsoft;
