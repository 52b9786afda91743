//! The integration tests, one binary with a module per topic (one link instead of
//! one per file). `tests/allocation.rs` stays its own binary: its counting
//! allocator must see nothing else run.

mod common;

#[cfg(feature = "burn-cpu")]
mod burn_device;
#[cfg(feature = "burn-cpu")]
mod burn_host;
#[cfg(feature = "candle")]
mod candle_adapter;
mod diagnostics;
mod engine;
mod golden;
mod highd;
mod kernel;
mod ksd_kl;
mod mmd;
mod no_panic;
mod sharded;
mod sliced;
mod special;
mod training_loop;
mod uniformity;
