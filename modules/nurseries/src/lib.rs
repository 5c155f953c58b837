//! Municipal nurseries (issue 8). This first part is the scoring engine:
//! pure, driven by each municipality's table, explaining every point.
//! Placement, the registration process and the pages follow; see README.md.

pub mod scoring;
