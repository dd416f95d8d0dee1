pub mod indicators;
pub mod run;
