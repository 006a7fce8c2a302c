//! The end-to-end tests, one binary: the real `gazette` binary (or the
//! intake's router in-process, where no process is needed) on temporary
//! sites. Run one area with `cargo test --test e2e intake_http::`.

mod common;

mod admin;
mod hardening;
mod intake_durability;
mod intake_http;
mod intake_nodes;
mod links;
mod mailbox;
mod manuals;
mod migrations;
mod office_exchange;
mod office_fax;
mod pdf;
mod print;
mod publishing;
mod running;
mod search;
mod seed;
mod serve;
mod site_build;
