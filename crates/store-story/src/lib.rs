//! The store story: scenarios every [`pillow_store::Store`] backend must pass.
//!
//! Kept out of `pillow-store` so production builds carry neither the scenarios nor tokio; the
//! backend crates take it as a dev-dependency and run it from their `tests/story.rs`.

pub mod google_story;
pub mod story;
