pub mod indicators;
pub mod run;
pub mod sentiment;
