//! The workflow engine (the seeds' BPMS): processes as data, cases, tasks,
//! timers, the protocol book, and the domain events every transition emits.

pub mod definition;
pub mod engine;
mod forms;
pub mod jobs;
pub mod protocol;
pub mod query;
pub mod stats;

pub use definition::{Definition, Known, Overrides, Step};
pub use engine::{
    Actor, CaseId, Engine, Event, EventSink, Filing, HookFn, HookInput, NewCase, Staff, Started,
    TaskId,
};
pub use jobs::Scheduler;
