//! The JSON directory store against real files: the shared `AppStore` contract, the
//! newer-job rule between handles racing on one directory and the files themselves
//! (`store`); buildimage and deploy on the fakes with this store, faults injected
//! (`workflows`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod store;
mod workflows;
