//! Bulky waste pickups (`../../docs` issue 19, domain rules §4): a citizen
//! asks for a pickup of items at an address, the cleaning department
//! collects by area on its collection days within each day's capacity,
//! crews work a day's route. This crate holds the rules as pure functions
//! (no I/O), tested on their own and with properties, as the nurseries'
//! scoring and placement are; the pages, the tables and the Open311 API
//! build on them.

pub mod route;
pub mod schedule;
pub mod streets;
