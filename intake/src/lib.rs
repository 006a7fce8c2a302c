//! The intake service. See the crate description.
