//! Turning results into something people read: the aligned text summary and
//! the side-by-side comparison. JSON is `serde_json` over `RunReport`.

mod junit;
mod limits;
mod summary;

pub use junit::junit;
pub use limits::limits_table;
pub use summary::{comparison, count, secs, summary};
