//! The L2 layer: one construct per concern, each with secure defaults and few knobs.
//!
//! A construct adds its parameters, conditions, resources and outputs to a template of
//! the stage; [`crate::app`] places the constructs into stacks.

pub mod appsync;
pub mod cdn;
pub mod dax;
pub mod keys;
pub mod monitoring;
pub mod network;
pub mod policy;
pub mod redis;
pub mod services;
pub mod warmer;
