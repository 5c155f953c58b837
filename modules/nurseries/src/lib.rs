//! Municipal nurseries (issue 8): the scoring engine (pure, driven by each
//! municipality's table, explaining every point) and placement (deferred
//! acceptance with siblings kept together, explained). The registration
//! process and its pages follow; see README.md.

pub mod generate;
pub mod placement;
pub mod scoring;
