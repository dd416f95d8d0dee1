//! Adapters: everything that talks to the outside world.

pub mod db;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
pub mod price_store;
pub mod yahoo;
