pub mod features;
pub mod indicators;
pub mod reddit;
pub mod run;
pub mod sentiment;
